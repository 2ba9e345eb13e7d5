#include "CLibre.h"

int ct_sip_transp_add(struct sip *sip, enum sip_transp tp, const struct sa *laddr)
{
	return sip_transp_add(sip, tp, laddr);
}

int ct_sipsess_accept(struct sipsess **sessp, struct sipsess_sock *sock,
		      const struct sip_msg *msg, uint16_t scode, const char *reason,
		      const char *cuser, struct mbuf *desc,
		      sipsess_offer_h *offerh, sipsess_answer_h *answerh,
		      sipsess_estab_h *estabh, sipsess_info_h *infoh,
		      sipsess_close_h *closeh, void *arg)
{
	return sipsess_accept(sessp, sock, msg, scode, reason, cuser,
			      "application/sdp", desc, NULL, NULL, false,
			      offerh, answerh, estabh, infoh, NULL, closeh, arg,
			      NULL);
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
			struct mbuf *desc)
{
	return sipsess_progress(sess, scode, reason, desc, NULL);
}

int ct_sipsess_answer(struct sipsess *sess, uint16_t scode, const char *reason,
		      struct mbuf *desc)
{
	return sipsess_answer(sess, scode, reason, desc, NULL);
}

int ct_sipsess_reject(struct sipsess *sess, uint16_t scode, const char *reason)
{
	return sipsess_reject(sess, scode, reason, NULL);
}

int ct_sip_treply_headers(struct sip *sip, const struct sip_msg *msg, uint16_t scode,
			  const char *reason, const char *headers)
{
	return sip_treplyf(NULL, NULL, sip, msg, false, scode, reason,
			   "%sContent-Length: 0\r\n\r\n", headers ? headers : "");
}

int ct_sipreg_register(struct sipreg **regp, struct sip *sip, const char *reg_uri,
		       const char *aor, const char *cuser, uint32_t expires,
		       sip_auth_h *authh, void *aarg, sip_resp_h *resph, void *arg)
{
	return sipreg_register(regp, sip, reg_uri, aor, NULL, aor, expires,
			       cuser, NULL, 0, 0, authh, aarg, false, resph, arg,
			       NULL, NULL);
}
