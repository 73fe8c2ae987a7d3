/* SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause */
/* famfs's seeded pattern: one definition, kept with the shipped guest tool. */
#include "../../../guest-tools/famfs_pattern.h"
