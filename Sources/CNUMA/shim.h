#ifndef KILN_CNUMA_SHIM_H
#define KILN_CNUMA_SHIM_H
// libnuma, seen by Swift through this one header (installed by scripts/install-deps as libnuma-dev).
#include <numa.h>
#include <numaif.h>
#endif
