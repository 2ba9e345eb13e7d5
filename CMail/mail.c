#include "CMail.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static void global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

struct reader {
    const char *data;
    size_t left;
};

static size_t read_message(char *buffer, size_t size, size_t count, void *arg) {
    struct reader *r = arg;
    size_t n = size * count < r->left ? size * count : r->left;
    memcpy(buffer, r->data, n);
    r->data += n;
    r->left -= n;
    return n;
}

/* libcurl calls this while it works: a non-zero answer aborts the transfer. */
static int progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
    (void)dltotal; (void)dlnow; (void)ultotal; (void)ulnow;
    const volatile int *cancel = arg;
    return cancel != NULL && *cancel != 0;
}

int ct_mail_send(const struct ct_mail *mail, char *error, size_t error_size) {
    pthread_once(&global_once, global_init);
    error[0] = '\0';
    CURL *curl = curl_easy_init();
    if (curl == NULL) {
        snprintf(error, error_size, "libcurl could not start");
        return CURLE_FAILED_INIT;
    }
    struct curl_slist *recipients = NULL;
    for (int i = 0; i < mail->to_count; i++) recipients = curl_slist_append(recipients, mail->to[i]);
    struct reader reader = {mail->message, mail->message_len};
    char curl_error[CURL_ERROR_SIZE] = "";

    curl_easy_setopt(curl, CURLOPT_URL, mail->url);
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, mail->from);
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, recipients);
    curl_easy_setopt(curl, CURLOPT_USE_SSL, (long)(mail->require_tls ? CURLUSESSL_ALL : CURLUSESSL_TRY));
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (mail->username != NULL) {
        curl_easy_setopt(curl, CURLOPT_USERNAME, mail->username);
        curl_easy_setopt(curl, CURLOPT_PASSWORD, mail->password != NULL ? mail->password : "");
    }
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_message);
    curl_easy_setopt(curl, CURLOPT_READDATA, &reader);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)mail->message_len);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, mail->timeout_seconds);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, mail->timeout_seconds < 10 ? mail->timeout_seconds : 10L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, (void *)mail->cancel);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_error);
    /* Only the mail protocols: a URL is built from config, but never let it become anything else. */
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");

    CURLcode result = curl_easy_perform(curl);
    if (result != CURLE_OK) {
        snprintf(error, error_size, "%s", curl_error[0] != '\0' ? curl_error : curl_easy_strerror(result));
    }
    curl_slist_free_all(recipients);
    curl_easy_cleanup(curl);
    return (int)result;
}
