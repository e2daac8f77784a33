#ifndef KILN_COPENBLAS_SHIM_H
#define KILN_COPENBLAS_SHIM_H
// OpenBLAS's CBLAS types and enums (libopenblas-dev). Only the declarations are used: the Runtime
// resolves the functions with dlsym from a library it loads itself (see OpenBLASLibrary.swift).
#include <cblas.h>
#endif
