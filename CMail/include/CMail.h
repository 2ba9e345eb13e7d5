/*
 * CMail: one e-mail handed to an SMTP relay through libcurl, which speaks SMTP, STARTTLS and
 * AUTH and checks the relay's certificate, behind one blocking function so that Swift sees none
 * of libcurl's variadic API.
 */
#ifndef CMAIL_H
#define CMAIL_H

#include <stddef.h>

struct ct_mail {
    const char *url;            /* smtp://host:port or smtps://host:port (TLS from the start) */
    const char *from;           /* envelope sender */
    const char *const *to;      /* envelope recipients */
    int to_count;
    const char *username;       /* NULL: no AUTH */
    const char *password;
    int require_tls;            /* 1: STARTTLS or fail (always when a password is sent); 0: STARTTLS when offered */
    const char *message;        /* the whole RFC 5322 message, CRLF line ends */
    size_t message_len;
    long timeout_seconds;       /* the whole exchange */
    const volatile int *cancel; /* set to non-zero to stop the exchange */
};

/* Sends the message; 0 on success, else libcurl's error code with a reason in error (size >= 256). */
int ct_mail_send(const struct ct_mail *mail, char *error, size_t error_size);

#endif
