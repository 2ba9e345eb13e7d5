/*
 * CCodecs: the wideband codecs the recorder decodes, G.722 (spandsp) and Opus (libopus),
 * behind small functions so that Swift sees neither library's headers.
 * The encoders exist for tests, which make known audio in these formats.
 */
#ifndef CCODECS_H
#define CCODECS_H

#include <stdint.h>

struct ct_g722_decoder;
struct ct_g722_encoder;
struct ct_opus_decoder;
struct ct_opus_encoder;

struct ct_g722_decoder *ct_g722_decoder_new(void);
void ct_g722_decoder_free(struct ct_g722_decoder *dec);
/** Decodes len bytes into 2*len samples at 16 kHz; returns the sample count. */
int ct_g722_decode(struct ct_g722_decoder *dec, int16_t *out, const uint8_t *in, int len);

struct ct_g722_encoder *ct_g722_encoder_new(void);
void ct_g722_encoder_free(struct ct_g722_encoder *enc);
/** Encodes len samples at 16 kHz into len/2 bytes; returns the byte count. */
int ct_g722_encode(struct ct_g722_encoder *enc, uint8_t *out, const int16_t *in, int len);

struct ct_opus_decoder *ct_opus_decoder_new(int32_t rate);
void ct_opus_decoder_free(struct ct_opus_decoder *dec);
/** Decodes one Opus packet into at most max samples (mono); returns the count or a negative error. */
int ct_opus_decode(struct ct_opus_decoder *dec, const uint8_t *in, int32_t len, int16_t *out, int max);

struct ct_opus_encoder *ct_opus_encoder_new(int32_t rate);
void ct_opus_encoder_free(struct ct_opus_encoder *enc);
/** Encodes one frame of mono samples; returns the packet length or a negative error. */
int ct_opus_encode(struct ct_opus_encoder *enc, const int16_t *in, int frame, uint8_t *out, int32_t max);

#endif
