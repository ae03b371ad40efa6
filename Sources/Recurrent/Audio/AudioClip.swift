/// Mono samples in [-1, 1] at a sample rate.
///
/// The readers give values in [-1, 1] (integer PCM scaled by its full scale, 32768 for 16 bits);
/// floating-point files may hold values past that, which are kept as they are.
public struct AudioClip: Sendable, Equatable {
    public var samples: [Float]
    /// Samples per second.
    public var sampleRate: Int

    public init(samples: [Float], sampleRate: Int) {
        self.samples = samples
        self.sampleRate = sampleRate
    }

    /// Seconds (0 when the rate is not positive).
    public var duration: Double {
        sampleRate > 0 ? Double(samples.count) / Double(sampleRate) : 0
    }

    /// The largest |sample|: 0 for an empty or digitally silent clip.
    public var peakAmplitude: Float {
        samples.reduce(0) { peak, sample in Swift.max(peak, sample.magnitude) }
    }

    /// The clip at another rate through a windowed-sinc low-pass filter (anti-aliasing when going
    /// down), computed as torchaudio.functional.resample does with its defaults (see `Resampler`).
    /// The same rate returns the clip unchanged; a rate that is not positive (on either side)
    /// gives an empty clip at `rate` (check rates from outside first: `Resampler(from:to:)` throws).
    public func resampled(to rate: Int) -> AudioClip {
        if rate == sampleRate { return self }
        guard let resampler = try? Resampler(from: sampleRate, to: rate) else {
            return AudioClip(samples: [], sampleRate: rate)
        }
        return AudioClip(samples: resampler.resample(samples), sampleRate: rate)
    }
}
