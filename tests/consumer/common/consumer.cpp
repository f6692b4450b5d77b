// SPDX-License-Identifier: MIT
// The C consumer compiled as C++: the public header must work there too.
#include "consumer.c"
