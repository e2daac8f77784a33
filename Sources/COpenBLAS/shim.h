#ifndef KILN_COPENBLAS_SHIM_H
#define KILN_COPENBLAS_SHIM_H
// OpenBLAS's CBLAS interface (installed by scripts/install-deps as libopenblas-dev).
#include <cblas.h>
#endif
