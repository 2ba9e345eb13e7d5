/*
 * The media relay's packet I/O: a datagram is read into a buffer its relay thread owns and sent on
 * from there. libre's own UDP receive path allocates a buffer per packet, shrinks it to the
 * packet and frees it, which was over half of the relay's instructions per packet. The system
 * calls are made directly: libc's wrappers add thread-cancellation bookkeeping that the relay
 * threads, which are never cancelled, would pay on every packet.
 *
 * One datagram per call, on purpose: the event loop is level-triggered, so a second waiting
 * datagram means another turn. recvmmsg/sendmmsg batches were tried: at 50 packets a second per
 * stream there is rarely a second datagram waiting, and their failed try for one cost more system
 * time than the batch saved.
 */
#define _GNU_SOURCE
#include "CLibre.h"
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int ct_datagram_read(struct ct_datagram *d, int fd)
{
	d->source.len = sizeof(d->source.u);
	long n = syscall(SYS_recvfrom, fd, d->bytes, sizeof(d->bytes), MSG_DONTWAIT | MSG_TRUNC,
			 &d->source.u.sa, &d->source.len);
	if (n < 0)
		return 0;
	/* MSG_TRUNC gives the whole length: a datagram longer than the buffer is no RTP, and is not relayed. */
	d->length = n > (long)sizeof(d->bytes) ? 0 : (size_t)n;
	return 1;
}

int ct_datagram_send(const struct ct_datagram *d, int fd, const struct sa *dst)
{
	long sent = syscall(SYS_sendto, fd, d->bytes, d->length, MSG_DONTWAIT, &dst->u.sa, dst->len);
	return sent == (long)d->length;
}
