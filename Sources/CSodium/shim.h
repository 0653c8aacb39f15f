#ifndef SEALDROP_CSODIUM_SHIM_H
#define SEALDROP_CSODIUM_SHIM_H
#include <sodium.h>
#endif
