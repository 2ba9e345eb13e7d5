#define _GNU_SOURCE
#include "CLibre.h"
#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

int ct_sip_transp_add(struct sip *sip, enum sip_transp tp, const struct sa *laddr)
{
	return sip_transp_add(sip, tp, laddr);
}

int ct_sipsess_accept(struct sipsess **sessp, struct sipsess_sock *sock,
		      const struct sip_msg *msg, uint16_t scode, const char *reason,
		      const char *cuser, struct mbuf *desc,
		      sipsess_offer_h *offerh, sipsess_answer_h *answerh,
		      sipsess_estab_h *estabh, sipsess_info_h *infoh,
		      sipsess_close_h *closeh, void *arg, const char *headers)
{
	return sipsess_accept(sessp, sock, msg, scode, reason, cuser,
			      "application/sdp", desc, NULL, NULL, false,
			      offerh, answerh, estabh, infoh, NULL, closeh, arg,
			      "%s", headers ? headers : "");
}

int ct_sipsess_connect(struct sipsess **sessp, struct sipsess_sock *sock,
		       const char *to_uri, const char *from_name, const char *from_uri,
		       const char *cuser, const char *route, struct mbuf *desc,
		       sip_auth_h *authh, void *aarg,
		       sipsess_offer_h *offerh, sipsess_answer_h *answerh,
		       sipsess_progr_h *progrh, sipsess_estab_h *estabh,
		       sipsess_info_h *infoh, sipsess_close_h *closeh, void *arg,
		       const char *headers)
{
	const char *routev[1];
	uint32_t routec = 0;

	if (route && route[0]) {
		routev[0] = route;
		routec = 1;
	}

	return sipsess_connect(sessp, sock, to_uri, from_name, from_uri, cuser,
			       routec ? routev : NULL, routec, "application/sdp",
			       desc, authh, aarg, false, offerh, answerh, progrh,
			       estabh, infoh, NULL, closeh, arg,
			       "%s", headers ? headers : "");
}

int ct_sipsess_progress(struct sipsess *sess, uint16_t scode, const char *reason,
			struct mbuf *desc, const char *headers)
{
	return sipsess_progress(sess, scode, reason, desc, "%s",
				headers ? headers : "");
}

int ct_sipsess_answer(struct sipsess *sess, uint16_t scode, const char *reason,
		      struct mbuf *desc, const char *headers)
{
	return sipsess_answer(sess, scode, reason, desc, "%s",
			      headers ? headers : "");
}

int ct_sipsess_reject(struct sipsess *sess, uint16_t scode, const char *reason)
{
	return sipsess_reject(sess, scode, reason, NULL);
}

int ct_sipreg_register(struct sipreg **regp, struct sip *sip, const char *reg_uri,
		       const char *aor, const char *cuser, uint32_t expires,
		       sip_auth_h *authh, void *aarg, sip_resp_h *resph, void *arg)
{
	return sipreg_register(regp, sip, reg_uri, aor, NULL, aor, expires,
			       cuser, NULL, 0, 0, authh, aarg, false, resph, arg,
			       NULL, NULL);
}

int ct_sip_reply_headers(struct sip *sip, const struct sip_msg *msg, uint16_t scode,
			 const char *reason, const char *headers)
{
	return sip_replyf(sip, msg, scode, reason,
			  "%sContent-Length: 0\r\n\r\n", headers ? headers : "");
}

int ct_sip_listen_first(struct sip_lsnr **lsnrp, struct sip *sip, bool req,
			sip_msg_h *msgh, void *arg)
{
	struct le *le;
	struct list *list;
	int err;

	err = sip_listen(lsnrp, sip, req, msgh, arg);
	if (err)
		return err;

	/* libre appends listeners; its transaction layer registered first.
	 * struct sip_lsnr starts with its list element (libre 1.1), which is
	 * checked before the element is moved to the head of the list. */
	le = (struct le *)*lsnrp;
	list = le->list;
	if (!list || le->data != *lsnrp) {
		*lsnrp = mem_deref(*lsnrp);
		return ENOTSUP;
	}
	list_unlink(le);
	list_prepend(list, le, *lsnrp);
	return 0;
}

/* A header value written by CallTrack in place of one of the message's own. It replaces the
 * original only in the message's header table, which dialogs read (sip_msg_hdr); the header
 * list, which replies copy, keeps the original (a Record-Route must go back unchanged). The
 * table owns it, so it is freed with the message. */
struct ct_header_text {
	struct sip_hdr hdr;
	char text[];
};

static void header_text_destructor(void *arg)
{
	struct sip_hdr *hdr = arg;

	hash_unlink(&hdr->he);
}

static int replace_header_value(struct sip_hdr *orig, const char *text, size_t len)
{
	struct ct_header_text *ht;
	struct list *table = orig->he.list;

	if (!table)
		return EINVAL;

	ht = mem_zalloc(sizeof(*ht) + len + 1, header_text_destructor);
	if (!ht)
		return ENOMEM;
	memcpy(ht->text, text, len);
	ht->text[len] = '\0';
	ht->hdr.name = orig->name;
	ht->hdr.id = orig->id;
	ht->hdr.val.p = ht->text;
	ht->hdr.val.l = len;

	/* Take the original's place in the table; the table's reference to the original goes. */
	list_insert_before(table, &orig->he, &ht->hdr.he, ht);
	hash_unlink(&orig->he);
	mem_deref(orig);

	return 0;
}

static bool uri_has_param(const struct pl *params, const char *name)
{
	struct pl value;

	return 0 == msg_param_exists(params, name, &value);
}

/* The URI parameters without maddr (which would send requests somewhere else). */
static int print_params(struct re_printf *pf, const struct pl *params)
{
	struct pl rest = *params, seg;
	int err = 0;

	while (rest.l) {
		const char *semi;
		size_t n;

		if (rest.p[0] == ';') {
			rest.p++;
			rest.l--;
		}
		semi = memchr(rest.p, ';', rest.l);
		n = semi ? (size_t)(semi - rest.p) : rest.l;
		seg.p = rest.p;
		seg.l = n;
		rest.p += n;
		rest.l -= n;
		if (!seg.l || (seg.l >= 5 && !strncasecmp(seg.p, "maddr", 5)))
			continue;
		err |= re_hprintf(pf, ";%r", &seg);
	}
	return err;
}

/* Rewrites one name-addr header value so that its URI's host and port are msg's source. */
static int retarget(struct sip_msg *msg, struct sip_hdr *hdr)
{
	struct sip_addr addr;
	char buf[1024];
	int n;

	if (sip_addr_decode(&addr, &hdr->val))
		return EBADMSG;

	/* The URI's user and parameters (transport, lr) are kept, maddr is dropped; a message
	 * that came over TCP is answered over TCP even when its URI forgot to say so. */
	n = re_snprintf(buf, sizeof(buf), "<%s:%r%s%J%H%s>",
			pl_isset(&addr.uri.scheme) && !pl_strcasecmp(&addr.uri.scheme, "sips")
				? "sips" : "sip",
			&addr.uri.user, addr.uri.user.l ? "@" : "",
			&msg->src, print_params, &addr.uri.params,
			msg->tp == SIP_TRANSP_TCP && !uri_has_param(&addr.uri.params, "transport")
				? ";transport=tcp" : "");
	if (n <= 0 || (size_t)n >= sizeof(buf))
		return EOVERFLOW;

	return replace_header_value(hdr, buf, (size_t)n);
}

/* A URI CallTrack may send to as it is: an IP address, and no maddr naming another place. */
static bool names_no_host(const struct uri *uri)
{
	struct sa sa;

	return 0 == sa_set(&sa, &uri->host, 0) && !uri_has_param(&uri->params, "maddr");
}

int ct_sip_msg_target_source(const struct sip_msg *cmsg, bool only_hostnames)
{
	struct sip_msg *msg = (struct sip_msg *)cmsg;
	const struct sip_hdr *hdr;
	struct sip_addr addr;

	if (!msg)
		return EINVAL;

	/* A proxy in the path: in-dialog requests go to it. The next hop is the first
	 * Record-Route of a request and the last of a response (RFC 3261 12.1); a proxy's own
	 * IP address is kept. Without one, the Contact is the target. */
	hdr = msg->req ? sip_msg_hdr(msg, SIP_HDR_RECORD_ROUTE)
		: sip_msg_hdr_apply(msg, false, SIP_HDR_RECORD_ROUTE, NULL, NULL);
	if (hdr)
		only_hostnames = true;
	else
		hdr = sip_msg_hdr(msg, SIP_HDR_CONTACT);
	if (!hdr)
		return 0;

	if (only_hostnames) {
		if (sip_addr_decode(&addr, &hdr->val))
			return EBADMSG;
		if (names_no_host(&addr.uri))
			return 0;
	}

	return retarget(msg, (struct sip_hdr *)hdr);
}

static ct_max_forwards_h *max_forwards_h;
static void *max_forwards_arg;

static const char *find(const char *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle);

	for (size_t i = 0; i + n <= len; i++) {
		if (hay[i] == needle[0] && !memcmp(hay + i, needle, n))
			return hay + i;
	}
	return NULL;
}

static void max_forwards_trace(bool tx, enum sip_transp tp, const struct sa *src,
			       const struct sa *dst, const uint8_t *pkt, size_t len,
			       void *arg)
{
	const char *p = (const char *)pkt, *head_end, *mf, *cid, *cid_end;
	size_t head;
	int value;
	(void)tp; (void)src; (void)dst; (void)arg;

	if (!tx || !max_forwards_h || len < 7 || memcmp(p, "INVITE ", 7))
		return;

	head_end = find(p, len, "\r\n\r\n");
	head = head_end ? (size_t)(head_end - p) + 2 : len;

	mf = find(p, head, "\r\nMax-Forwards: 70\r\n");
	cid = find(p, head, "\r\nCall-ID: ");
	if (!mf || !cid)
		return;
	cid += 11;
	cid_end = find(cid, head - (size_t)(cid - p), "\r\n");
	if (!cid_end)
		return;

	value = max_forwards_h(cid, (size_t)(cid_end - cid), max_forwards_arg);
	if (value < 0 || value > 69)
		return;

	/* Same width: "Max-Forwards: 07" is a valid 1*DIGIT value. The buffer is
	 * the one about to be sent (and kept for retransmissions). */
	((char *)mf)[16] = (char)('0' + value / 10);
	((char *)mf)[17] = (char)('0' + value % 10);
}

void ct_sip_set_max_forwards_hook(struct sip *sip, ct_max_forwards_h *h, void *arg)
{
	max_forwards_h = h;
	max_forwards_arg = arg;
	sip_set_trace_handler(sip, h ? max_forwards_trace : NULL);
}

int ct_tune_tcp_listeners(uint16_t port, int backlog, int defer_seconds)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *entry;
	int changed = 0;

	if (!dir)
		return -1;

	while ((entry = readdir(dir))) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd, listening = 0;
		socklen_t ll = sizeof(listening);
		uint16_t p;

		if (entry->d_name[0] == '.')
			continue;
		fd = atoi(entry->d_name);
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ll) || !listening)
			continue;
		if (getsockname(fd, (struct sockaddr *)&ss, &sl))
			continue;
		if (ss.ss_family == AF_INET)
			p = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			p = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		else
			continue;
		if (p != port)
			continue;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_seconds,
				 sizeof(defer_seconds));
		if (listen(fd, backlog) == 0)
			changed++;
	}
	closedir(dir);
	return changed;
}


static __thread void *current_loop;

void ct_set_current_loop(void *loop)
{
	current_loop = loop;
}

void *ct_current_loop(void)
{
	return current_loop;
}

void ct_set_thread_name(const char *name)
{
	(void)pthread_setname_np(pthread_self(), name);
}
