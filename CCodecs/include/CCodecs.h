/*
 * CCodecs: the codecs the recorder decodes beyond G.711: G.722 (spandsp), Opus (libopus),
 * G.729 (bcg729) and GSM 06.10 (libgsm), and the resampler (libsoxr) that brings them to the
 * file's rate, behind small functions so that Swift sees none of the libraries' headers.
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

/** G.729: 10-byte frames of 80 samples at 8 kHz; 2-byte frames are silence descriptors (Annex B). */
struct ct_g729_decoder;
struct ct_g729_encoder;
struct ct_g729_decoder *ct_g729_decoder_new(void);
void ct_g729_decoder_free(struct ct_g729_decoder *dec);
/** Decodes one frame (10 bytes, or a 2-byte SID) into 80 samples; returns 80, or 0 for a bad length. */
int ct_g729_decode_frame(struct ct_g729_decoder *dec, const uint8_t *in, int len, int16_t *out);
struct ct_g729_encoder *ct_g729_encoder_new(void);
void ct_g729_encoder_free(struct ct_g729_encoder *enc);
/** Encodes 80 samples into one frame; returns its length (10). */
int ct_g729_encode_frame(struct ct_g729_encoder *enc, const int16_t *in, uint8_t *out);

/** GSM 06.10 full rate: 33-byte frames of 160 samples at 8 kHz. */
struct ct_gsm;
struct ct_gsm *ct_gsm_new(void);
void ct_gsm_free(struct ct_gsm *gsm);
/** Decodes one 33-byte frame into 160 samples; returns 160, or 0 when the frame is not GSM. */
int ct_gsm_decode_frame(struct ct_gsm *gsm, const uint8_t *in, int16_t *out);
/** Encodes 160 samples into one 33-byte frame. */
void ct_gsm_encode_frame(struct ct_gsm *gsm, const int16_t *in, uint8_t *out);

/** A streaming resampler (libsoxr, high quality): one per channel and source rate, so its
 * filter runs across packet boundaries. */
struct ct_resampler;
struct ct_resampler *ct_resampler_new(double in_rate, double out_rate);
void ct_resampler_free(struct ct_resampler *r);
/** Feeds in_len samples; writes at most out_max; returns how many were written (or -1). */
int ct_resampler_process(struct ct_resampler *r, const int16_t *in, int in_len, int16_t *out, int out_max);

#endif
