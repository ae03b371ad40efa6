import Foundation
import XCTest
@testable import Recurrent

/// Resampling against torchaudio.functional.resample (defaults) on real speech, and what its
/// low-pass filter must do whatever the reference says.
final class ResamplerTests: XCTestCase {
    /// Samples are in [-1, 1]; the taps follow torchaudio's float32 steps, and the sums differ
    /// by float32 rounding only (measured: 9e-8 at most, 1.5 steps of 6e-8 at 0.5): 3e-7 is 5 steps.
    static let tolerance: Float = 3e-7

    func testMatchesTorchaudio() throws {
        let cases: [(String, Int, String)] = [("foxtrot-8k.wav", 16000, "foxtrot_16k"), ("excerpt-16k.wav", 8000, "excerpt_16k_to_8k"),
                                              ("excerpt-44k.wav", 16000, "excerpt_44k_to_16k")]
        for (file, rate, key) in cases {
            let clip = try AudioFixtures.clip(file)
            let resampled = clip.resampled(to: rate)
            let expected = try AudioFixtures.reference(key).scalars
            XCTAssertEqual(resampled.sampleRate, rate)
            XCTAssertEqual(resampled.samples.count, expected.count, key)
            let difference = largestDifference(resampled.samples, expected)
            print("\(clip.sampleRate) -> \(rate) Hz (\(key)): largest difference \(difference)")
            XCTAssertLessThanOrEqual(difference, Self.tolerance, key)
        }
    }

    /// A tone of `frequency` Hz at `rate`, one second.
    func tone(_ frequency: Double, rate: Int) -> [Float] {
        (0..<rate).map { Float(0.5 * sin(2 * Double.pi * frequency * Double($0) / Double(rate))) }
    }

    let toneRMS = Float(0.5 / 2.0.squareRoot())

    /// Root mean square over the middle half (away from the edges' transients).
    func middleRMS(_ samples: [Float]) -> Float {
        let middle = samples[samples.count / 4..<3 * samples.count / 4]
        return (middle.reduce(0) { $0 + $1 * $1 } / Float(middle.count)).squareRoot()
    }

    func testKeepsThePassBandAndRemovesWhatWouldAlias() throws {
        let down = try Resampler(from: 44100, to: 16000)
        let kept = middleRMS(down.resample(tone(3000, rate: 44100)))
        XCTAssertEqual(kept, toneRMS, accuracy: 0.005, "a 3 kHz tone passes")
        // 10 kHz and 12 kHz lie above the new Nyquist frequency (8 kHz): without the filter they
        // would come back as 6 and 4 kHz at full level.
        // The filter (6 zero crossings a side, cut at 0.99 x 8 kHz) takes 10 kHz 45 dB down, 12 kHz 55 dB.
        for (frequency, attenuation) in [(10_000.0, Float(1e-2)), (12_000.0, 3e-3)] {
            let aliased = middleRMS(down.resample(tone(frequency, rate: 44100)))
            XCTAssertLessThan(aliased, toneRMS * attenuation, "\(frequency) Hz")
        }
        let up = try Resampler(from: 8000, to: 16000)
        XCTAssertEqual(middleRMS(up.resample(tone(1000, rate: 8000))), toneRMS, accuracy: 0.005)
    }

    func testTapsComputedPerSampleAgreeWithTheTable() throws {
        // A pair whose table would be too large (44100/44099 reduce to nothing) takes the
        // per-sample route; on a pair with a table both routes must agree.
        let resampler = try Resampler(from: 44100, to: 16000)
        let input = try AudioFixtures.clip("excerpt-44k.wav").samples
        XCTAssertLessThanOrEqual(largestDifference(resampler.resampleDirectly(input, count: resampler.outputCount(inputCount: input.count)),
                                                   resampler.resample(input)), 1e-6)
        let odd = try Resampler(from: 44100, to: 44099)
        XCTAssertNil(odd.table)
        let oddOutput = odd.resample(tone(1000, rate: 44100))
        XCTAssertEqual(oddOutput.count, 44099)
        XCTAssertEqual(middleRMS(oddOutput), toneRMS, accuracy: 0.005)
    }

    func testLengthsAndBadRates() throws {
        let resampler = try Resampler(from: 44100, to: 16000)
        XCTAssertEqual([0, 1, 441, 442, 11025].map { resampler.outputCount(inputCount: $0) }, [0, 1, 160, 161, 4000])
        XCTAssertEqual(resampler.resample([]), [])
        let clip = AudioClip(samples: [0.1, 0.2], sampleRate: 8000)
        XCTAssertEqual(clip.resampled(to: 8000), clip)
        XCTAssertEqual(clip.resampled(to: 0), AudioClip(samples: [], sampleRate: 0))
        XCTAssertThrowsError(try Resampler(from: 0, to: 16000)) { error in
            XCTAssertEqual("\(error)", "resampling needs positive rates, got 0 Hz to 16000 Hz")
        }
    }
}
