import CCodecs

/// Audio of one rate brought to another with libsoxr's high-quality filter, streaming: a codec
/// change mid-call (8 kHz into a 16 kHz file, or back) neither repeats nor drops samples, which
/// would fold images and aliases into the recording.
final class Resampler {
    private let state: OpaquePointer
    private let ratio: Double

    init?(from source: Int, to target: Int) {
        guard let s = ct_resampler_new(Double(source), Double(target)) else { return nil }
        state = s
        ratio = Double(target) / Double(source)
    }

    deinit { ct_resampler_free(state) }

    /// The output for `samples`; the filter's short delay means the first call returns a little less.
    func process(_ samples: [Int16]) -> [Int16] {
        var out = [Int16](repeating: 0, count: Int(Double(samples.count) * ratio) + 64)
        let n = ct_resampler_process(state, samples, Int32(samples.count), &out, Int32(out.count))
        return Array(out.prefix(Int(max(0, n))))
    }
}
