/*
 * CLibre: the one module that includes libre's and librem's headers.
 *
 * libre's re_types.h needs HAVE_INTTYPES_H to pick the C99 integer types instead of
 * declaring its own; clang would otherwise see two conflicting definitions.
 * The ct_* functions wrap the variadic libre calls that Swift cannot call.
 */
#ifndef CLIBRE_H
#define CLIBRE_H

#ifndef HAVE_INTTYPES_H
#define HAVE_INTTYPES_H 1
#endif
/* Without this re_types.h makes bool a signed char; libre is built with C99 _Bool. */
#ifndef HAVE_STDBOOL_H
#define HAVE_STDBOOL_H 1
#endif
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <re/re.h>
#include <rem/rem_g711.h>

/** Adds a UDP or TCP SIP transport bound to laddr. */
int ct_sip_transp_add(struct sip *sip, enum sip_transp tp, const struct sa *laddr);

/** Accepts an incoming INVITE with a provisional or final response; headers may be NULL. */
int ct_sipsess_accept(struct sipsess **sessp, struct sipsess_sock *sock,
                      const struct sip_msg *msg, uint16_t scode, const char *reason,
                      const char *cuser, struct mbuf *desc,
                      sipsess_offer_h *offerh, sipsess_answer_h *answerh,
                      sipsess_estab_h *estabh, sipsess_info_h *infoh,
                      sipsess_close_h *closeh, void *arg, const char *headers);

/** Starts an outgoing INVITE session; routev may hold one loose route (the trunk proxy). */
int ct_sipsess_connect(struct sipsess **sessp, struct sipsess_sock *sock,
                       const char *to_uri, const char *from_name, const char *from_uri,
                       const char *cuser, const char *route, struct mbuf *desc,
                       sip_auth_h *authh, void *aarg,
                       sipsess_offer_h *offerh, sipsess_answer_h *answerh,
                       sipsess_progr_h *progrh, sipsess_estab_h *estabh,
                       sipsess_info_h *infoh, sipsess_close_h *closeh, void *arg,
                       const char *headers);

/** Sends a provisional response on an accepted session; desc and headers may be NULL. */
int ct_sipsess_progress(struct sipsess *sess, uint16_t scode, const char *reason,
                        struct mbuf *desc, const char *headers);

/** Sends the 2xx answer on an accepted session; headers may be NULL. */
int ct_sipsess_answer(struct sipsess *sess, uint16_t scode, const char *reason,
                      struct mbuf *desc, const char *headers);

/** Rejects an accepted, unanswered session with a final error response. */
int ct_sipsess_reject(struct sipsess *sess, uint16_t scode, const char *reason);

/** Replies statelessly (no retransmissions) with extra header lines, no body. */
int ct_sip_reply_headers(struct sip *sip, const struct sip_msg *msg, uint16_t scode,
                         const char *reason, const char *headers);

/**
 * Registers a request or response listener ahead of every other one, libre's own
 * transaction layer included, so that it sees each message first.
 */
int ct_sip_listen_first(struct sip_lsnr **lsnrp, struct sip *sip, bool req,
                        sip_msg_h *msgh, void *arg);

/**
 * Points the dialog target of msg at the address it came from, so that in-dialog requests
 * go there and no hostname from the message is ever resolved: the first Record-Route if it
 * names a host rather than an IP address (a proxy's own IP is kept), else the Contact
 * (always, or with only_hostnames just when it names a host). The new header text belongs
 * to the message and is freed with it.
 */
int ct_sip_msg_target_source(const struct sip_msg *msg, bool only_hostnames);

/** Asks for the Max-Forwards of an outgoing INVITE by Call-ID; < 0 leaves libre's 70. */
typedef int (ct_max_forwards_h)(const char *call_id, size_t len, void *arg);

/**
 * libre writes "Max-Forwards: 70" into every request it builds; this hook rewrites the
 * value of outgoing INVITEs in place, just before they are sent (and on retransmissions).
 */
void ct_sip_set_max_forwards_hook(struct sip *sip, ct_max_forwards_h *h, void *arg);

/**
 * Raises the accept backlog of CallTrack's listening TCP sockets on port (libre listens
 * with a backlog of 5) and defers accepting a connection until it sends data.
 * Returns how many sockets were changed.
 */
int ct_tune_tcp_listeners(uint16_t port, int backlog, int defer_seconds);

/** Sends REGISTER to a trunk and keeps it refreshed. */
int ct_sipreg_register(struct sipreg **regp, struct sip *sip, const char *reg_uri,
                       const char *aor, const char *cuser, uint32_t expires,
                       sip_auth_h *authh, void *aarg, sip_resp_h *resph, void *arg);

/** Which libre loop the calling thread runs (NULL on any other thread): libre objects may be
   touched only on their loop's thread, and Swift checks it with this. */
void ct_set_current_loop(void *loop);
/* Names the calling thread as `top -H` and /proc show it (at most 15 characters). */
void ct_set_thread_name(const char *name);
void *ct_current_loop(void);

/* The media relay's packet I/O (datagrams.c): one relay thread's receive buffer. */
#define CT_DATAGRAM_SIZE 2048
struct ct_datagram {
	struct sa source;
	size_t length;
	uint8_t bytes[CT_DATAGRAM_SIZE];
};
/** Reads one datagram waiting on fd without blocking: 1, or 0 when none was waiting. One longer
   than CT_DATAGRAM_SIZE reads as length 0. */
int ct_datagram_read(struct ct_datagram *d, int fd);
/** Sends the datagram's bytes to dst from fd: 1 when all of them went. */
int ct_datagram_send(const struct ct_datagram *d, int fd, const struct sa *dst);

#endif
