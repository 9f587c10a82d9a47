/*
 * The Xen ELF notes that describe a test guest to the domain builder
 * (linux-pv-guest.md 1.3). The type numbers come from <xen/elfnote.h>.
 * VIRT_BASE is defined in guest.ld, so the notes and the link address cannot
 * drift apart.
 */
#include <xen/elfnote.h>

/* One note in the ELF format, owner "Xen": namesz, descsz, type, then the
 * name and desc, each padded to 4 bytes. */
.macro xen_note type:req, desc:vararg
	.balign 4
	.long 2f - 1f			/* namesz, including the NUL */
	.long 4f - 3f			/* descsz */
	.long \type
1:	.asciz "Xen"
2:	.balign 4
3:	\desc
4:	.balign 4
.endm

	.section .note.Xen, "a", @note
	xen_note XEN_ELFNOTE_GUEST_OS,      .asciz "xpv-test"
	xen_note XEN_ELFNOTE_GUEST_VERSION, .asciz "1"
	/* libelf accepts GUEST_OS "linux" or LOADER "generic". */
	xen_note XEN_ELFNOTE_LOADER,        .asciz "generic"
	/* libelf refuses any other value. */
	xen_note XEN_ELFNOTE_XEN_VERSION,   .asciz "xen-3.0"
	xen_note XEN_ELFNOTE_VIRT_BASE,     .quad VIRT_BASE
	xen_note XEN_ELFNOTE_PADDR_OFFSET,  .quad 0
	xen_note XEN_ELFNOTE_ENTRY,         .quad _start
	xen_note XEN_ELFNOTE_HYPERCALL_PAGE, .quad hypercall_page
	/* There is no FEATURES note: the guest requires no optional feature. */

	.section .note.GNU-stack, "", @progbits	/* no executable stack */
