#include <stdlib.h>
#include <stdbool.h>
#include <stdint.h>
#include <inttypes.h>
#include <spandsp/telephony.h>
#include <spandsp/g722.h>
#include <opus/opus.h>
#include <bcg729/decoder.h>
#include <bcg729/encoder.h>
#include <gsm/gsm.h>
#include <soxr.h>
#include "CCodecs.h"

struct ct_g722_decoder *ct_g722_decoder_new(void)
{
	return (struct ct_g722_decoder *)g722_decode_init(NULL, 64000, 0);
}

void ct_g722_decoder_free(struct ct_g722_decoder *dec)
{
	if (dec)
		g722_decode_free((g722_decode_state_t *)dec);
}

int ct_g722_decode(struct ct_g722_decoder *dec, int16_t *out, const uint8_t *in, int len)
{
	return g722_decode((g722_decode_state_t *)dec, out, in, len);
}

struct ct_g722_encoder *ct_g722_encoder_new(void)
{
	return (struct ct_g722_encoder *)g722_encode_init(NULL, 64000, 0);
}

void ct_g722_encoder_free(struct ct_g722_encoder *enc)
{
	if (enc)
		g722_encode_free((g722_encode_state_t *)enc);
}

int ct_g722_encode(struct ct_g722_encoder *enc, uint8_t *out, const int16_t *in, int len)
{
	return g722_encode((g722_encode_state_t *)enc, out, in, len);
}

struct ct_opus_decoder *ct_opus_decoder_new(int32_t rate)
{
	int err = 0;
	OpusDecoder *dec = opus_decoder_create(rate, 1, &err);
	return err == OPUS_OK ? (struct ct_opus_decoder *)dec : NULL;
}

void ct_opus_decoder_free(struct ct_opus_decoder *dec)
{
	if (dec)
		opus_decoder_destroy((OpusDecoder *)dec);
}

int ct_opus_decode(struct ct_opus_decoder *dec, const uint8_t *in, int32_t len, int16_t *out, int max)
{
	return opus_decode((OpusDecoder *)dec, in, len, out, max, 0);
}

struct ct_opus_encoder *ct_opus_encoder_new(int32_t rate)
{
	int err = 0;
	OpusEncoder *enc = opus_encoder_create(rate, 1, OPUS_APPLICATION_VOIP, &err);
	return err == OPUS_OK ? (struct ct_opus_encoder *)enc : NULL;
}

void ct_opus_encoder_free(struct ct_opus_encoder *enc)
{
	if (enc)
		opus_encoder_destroy((OpusEncoder *)enc);
}

int ct_opus_encode(struct ct_opus_encoder *enc, const int16_t *in, int frame, uint8_t *out, int32_t max)
{
	return opus_encode((OpusEncoder *)enc, in, frame, out, max);
}

struct ct_g729_decoder *ct_g729_decoder_new(void)
{
	return (struct ct_g729_decoder *)initBcg729DecoderChannel();
}

void ct_g729_decoder_free(struct ct_g729_decoder *dec)
{
	if (dec)
		closeBcg729DecoderChannel((bcg729DecoderChannelContextStruct *)dec);
}

int ct_g729_decode_frame(struct ct_g729_decoder *dec, const uint8_t *in, int len, int16_t *out)
{
	if (len != 10 && len != 2)
		return 0;
	bcg729Decoder((bcg729DecoderChannelContextStruct *)dec, in, (uint8_t)len, 0,
		      len == 2, 0, out);
	return 80;
}

struct ct_g729_encoder *ct_g729_encoder_new(void)
{
	return (struct ct_g729_encoder *)initBcg729EncoderChannel(0);
}

void ct_g729_encoder_free(struct ct_g729_encoder *enc)
{
	if (enc)
		closeBcg729EncoderChannel((bcg729EncoderChannelContextStruct *)enc);
}

int ct_g729_encode_frame(struct ct_g729_encoder *enc, const int16_t *in, uint8_t *out)
{
	uint8_t len = 0;

	bcg729Encoder((bcg729EncoderChannelContextStruct *)enc, in, out, &len);
	return len;
}

struct ct_gsm *ct_gsm_new(void)
{
	return (struct ct_gsm *)gsm_create();
}

void ct_gsm_free(struct ct_gsm *g)
{
	if (g)
		gsm_destroy((gsm)g);
}

int ct_gsm_decode_frame(struct ct_gsm *g, const uint8_t *in, int16_t *out)
{
	return gsm_decode((gsm)g, (gsm_byte *)in, out) == 0 ? 160 : 0;
}

void ct_gsm_encode_frame(struct ct_gsm *g, const int16_t *in, uint8_t *out)
{
	gsm_encode((gsm)g, (gsm_signal *)in, out);
}

struct ct_resampler *ct_resampler_new(double in_rate, double out_rate)
{
	soxr_error_t err = NULL;
	soxr_io_spec_t io = soxr_io_spec(SOXR_INT16_I, SOXR_INT16_I);
	soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
	soxr_t r = soxr_create(in_rate, out_rate, 1, &err, &io, &quality, NULL);

	if (err) {
		soxr_delete(r);
		return NULL;
	}
	return (struct ct_resampler *)r;
}

void ct_resampler_free(struct ct_resampler *r)
{
	if (r)
		soxr_delete((soxr_t)r);
}

int ct_resampler_process(struct ct_resampler *r, const int16_t *in, int in_len, int16_t *out, int out_max)
{
	size_t done_in = 0, done_out = 0;

	if (soxr_process((soxr_t)r, in, (size_t)in_len, &done_in, out, (size_t)out_max, &done_out))
		return -1;
	return (int)done_out;
}
