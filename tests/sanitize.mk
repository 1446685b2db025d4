# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Read after the Makefile by `make sanitize-build` (OUTPUT is the sanitizer's): what the unit and
# end-to-end tiers need, built with its CFLAGS.
sanitize-prereqs: $(OUTPUT)/qhtrace $(FIXTURES) $(UNIT_TESTS)
