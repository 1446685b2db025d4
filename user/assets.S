/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Files linked into qhtrace for the HTML report (html.c): D3's bundle and its copyright file
 * from Debian's node-d3 (paths from the Makefile), the page's script and style. Each is
 * followed by a NUL and bracketed by start and end symbols.
 */
#define ASSET(name, file)			\
	.global name;				\
	.global name##_end;			\
	.balign 16;				\
name:						\
	.incbin file;				\
name##_end:					\
	.byte 0

	.section .rodata
ASSET(qh_asset_d3_js, QH_D3_JS)
ASSET(qh_asset_d3_license, QH_D3_LICENSE)
ASSET(qh_asset_html_js, "user/html.js")
ASSET(qh_asset_html_css, "user/html.css")

	.section .note.GNU-stack,"",@progbits
