import Foundation
import XCTest
@testable import Recurrent

/// Log-mel features against torchaudio.compliance.kaldi.fbank and compute_deltas on real
/// speech (foxtrot, 8 kHz, and torchaudio's 16 kHz resampling of it).
///
/// Tolerance: 1e-3 on log values overall, 2e-4 where the log-mel is above -10. Both float32
/// results (torchaudio's and ours) drift from the float64 one most where a filter's power is a
/// few times float32's epsilon (log near -15.9, the floor): there the power is the small
/// difference of large sums and the error of either transform is a large fraction of it. Above
/// -10 (power 4.5e-5) both stay within about 1e-4 of float64. 1e-3 in a log is 0.1% of the power.
final class FilterbankTests: XCTestCase {
    static let tolerance: Float = 1e-3, toleranceAboveMinusTen: Float = 2e-4

    func options(_ rate: Int, bins: Int, _ change: (inout FilterbankOptions) -> Void = { _ in }) -> FilterbankOptions {
        var options = FilterbankOptions(sampleRate: rate)
        options.melBins = bins
        change(&options)
        return options
    }

    /// Checks `ours` against a reference and returns the largest difference.
    @discardableResult
    func compare(_ ours: Tensor, _ key: String, file: StaticString = #filePath, line: UInt = #line) throws -> Float {
        let theirs = try AudioFixtures.reference(key)
        XCTAssertEqual(ours.shape, theirs.shape, key, file: file, line: line)
        let largest = largestDifference(ours.scalars, theirs.scalars)
        let aboveMinusTen = zip(ours.scalars, theirs.scalars).filter { $0.1 > -10 }.map { abs($0.0 - $0.1) }.max() ?? 0
        print("\(key): largest difference \(largest), \(aboveMinusTen) where above -10")
        XCTAssertLessThanOrEqual(largest, Self.tolerance, key, file: file, line: line)
        XCTAssertLessThanOrEqual(aboveMinusTen, Self.toleranceAboveMinusTen, key, file: file, line: line)
        return largest
    }

    func testLogMelsMatchTorchaudioAt8And16Kilohertz() throws {
        let fox = try AudioFixtures.clip("foxtrot-8k.wav").samples
        let fox16 = try AudioFixtures.reference("foxtrot_16k").scalars
        for bins in [40, 80] {
            try compare(Filterbank(options(8000, bins: bins)).features(fox), "foxtrot_8k_fbank\(bins)")
            try compare(Filterbank(options(16000, bins: bins)).features(fox16), "foxtrot_16k_fbank\(bins)")
        }
        // Against torchaudio run in float64: no further from it than torchaudio's float32 is.
        for (rate, bins, samples) in [(8000, 40, fox), (16000, 80, fox16)] {
            let key = "foxtrot_\(rate / 1000)k_fbank\(bins)"
            let exact = try AudioFixtures.reference(key + "_f64").scalars
            let ours = try largestDifference(Filterbank(options(rate, bins: bins)).features(samples).scalars, exact)
            let torchaudio = try largestDifference(AudioFixtures.reference(key).scalars, exact)
            print("\(key) from float64: ours \(ours), torchaudio's float32 \(torchaudio)")
            XCTAssertLessThanOrEqual(ours, torchaudio * 1.25, key)
        }
        // Our own resampling composed with our features. Above 4 kHz the 16 kHz signal holds only
        // the resampler's leakage, so those bins sit near the floor, where the last bits of the
        // samples move the logs most: 2e-3 there, the same 2e-4 above -10.
        let resampled = try AudioFixtures.clip("foxtrot-8k.wav").resampled(to: 16000).samples
        let composed = try Filterbank(options(16000, bins: 80)).features(resampled).scalars
        let reference = try AudioFixtures.reference("foxtrot_16k_fbank80").scalars
        XCTAssertLessThanOrEqual(largestDifference(composed, reference), 2e-3)
        XCTAssertLessThanOrEqual(zip(composed, reference).filter { $0.1 > -10 }.map { abs($0.0 - $0.1) }.max() ?? 1, Self.toleranceAboveMinusTen)
    }

    func testOtherWindowsAndOptionsMatchTorchaudio() throws {
        let fox = try AudioFixtures.clip("foxtrot-8k.wav").samples
        try compare(Filterbank(options(8000, bins: 23) { $0.window = .povey }).features(fox), "foxtrot_8k_fbank23_povey")
        let hamming = options(8000, bins: 30) {
            $0.window = .hamming; $0.preemphasis = 0; $0.removeDCOffset = false; $0.lowFrequency = 64; $0.highFrequency = -400
        }
        try compare(Filterbank(hamming).features(fox), "foxtrot_8k_fbank30_hamming")
        let rectangular = options(8000, bins: 24) {
            $0.window = .rectangular; $0.frameLengthMs = 20; $0.frameShiftMs = 15; $0.roundToPowerOfTwo = false
        }
        try compare(Filterbank(rectangular).features(fox), "foxtrot_8k_fbank24_rectangular_frame20")
    }

    func testDeltasMatchComputeDeltas() throws {
        let fox = try AudioFixtures.clip("foxtrot-8k.wav").samples
        let plain = try Filterbank(options(8000, bins: 40)).features(fox)
        let withDeltas = try Filterbank(options(8000, bins: 40) { $0.deltaOrder = 2 }).features(fox)
        XCTAssertEqual(withDeltas.shape, [95, 120])
        func columns(_ tensor: Tensor, _ range: Range<Int>) -> Tensor {
            let width = tensor.shape[1]
            return Tensor(shape: [tensor.shape[0], range.count], scalars: (0..<tensor.shape[0]).flatMap { row in
                tensor.scalars[row * width + range.lowerBound..<row * width + range.upperBound]
            })
        }
        XCTAssertEqual(columns(withDeltas, 0..<40), plain, "the log-mels are the same bits with or without deltas")
        // Deltas of our log-mels against torchaudio's deltas of its own: within the log-mels'
        // tolerance times the regression's gain (sum |k| / 10 = 0.6, and 0.36 for the second).
        try compare(columns(withDeltas, 40..<80), "foxtrot_8k_fbank40_delta")
        try compare(columns(withDeltas, 80..<120), "foxtrot_8k_fbank40_delta2")
        // The regression alone, on torchaudio's own log-mels: float rounding apart.
        var assembler = FeatureAssembler(options(8000, bins: 40) { $0.deltaOrder = 2 })
        var rows: [Float] = []
        assembler.append(try AudioFixtures.reference("foxtrot_8k_fbank40").scalars, final: true, to: &rows)
        let regression = Tensor(shape: [95, 120], scalars: rows)
        for (range, key, bound) in [(40..<80, "foxtrot_8k_fbank40_delta", Float(2e-6)), (80..<120, "foxtrot_8k_fbank40_delta2", 2e-6)] {
            let difference = largestDifference(columns(regression, range).scalars, try AudioFixtures.reference(key).scalars)
            print("\(key) from torchaudio's log-mels: largest difference \(difference)")
            XCTAssertLessThanOrEqual(difference, bound, key)
        }
    }

    func testFrameCountsShortClipsAndSilence() throws {
        let filterbank = try Filterbank(options(8000, bins: 40) { $0.deltaOrder = 1 })
        XCTAssertEqual([0, 199, 200, 279, 280, 7783].map { filterbank.frameCount(sampleCount: $0) }, [0, 0, 1, 1, 2, 95])
        XCTAssertEqual(filterbank.features([]).shape, [0, 80])
        XCTAssertEqual(filterbank.features([Float](repeating: 0.1, count: 199)).shape, [0, 80])
        // Digital silence: every log-mel at the floor, ln(float32 epsilon), and deltas of 0 up to
        // the rounding of -2c - c + c + 2c (the order torchaudio's convolution sums in).
        let silence = filterbank.features([Float](repeating: 0, count: 1000))
        XCTAssertEqual(silence.shape, [11, 80])
        for row in 0..<11 {
            XCTAssertEqual(Array(silence.scalars[row * 80..<row * 80 + 40]), [Float](repeating: log(Float.ulpOfOne), count: 40))
            XCTAssertLessThanOrEqual(silence.scalars[row * 80 + 40..<row * 80 + 80].map(abs).max() ?? 1, 1e-6)
        }
    }

    func testOptionsAreCheckedAndDecodeWithDefaults() throws {
        let bad: [(String, (inout FilterbankOptions) -> Void)] = [
            ("sampleRate 0 Hz is not in 1...1000000", { $0.sampleRate = 0 }),
            ("melBins 0 is not in 1...1024", { $0.melBins = 0 }),
            ("deltaOrder 3 is not 0, 1 or 2", { $0.deltaOrder = 3 }),
            ("deltaWindow 4 must be odd, 3...99", { $0.deltaWindow = 4 }),
            ("mel filters from 4000.0 Hz to 4000.0 Hz do not fit 0...4000.0 Hz (the Nyquist frequency)", { $0.lowFrequency = 4000 }),
            ("mel filters from 20.0 Hz to 5000.0 Hz do not fit 0...4000.0 Hz (the Nyquist frequency)", { $0.highFrequency = 5000 }),
            ("a 0.1 ms frame is 0 samples at 8000 Hz; it must be 2...65536", { $0.frameLengthMs = 0.1 }),
            ("frame length nan ms and shift 10.0 ms must be positive", { $0.frameLengthMs = .nan }),
            ("the Fourier transform needs an even length; the 201-sample frame is odd (set roundToPowerOfTwo)",
             { $0.frameLengthMs = 25.125; $0.roundToPowerOfTwo = false }),
            ("preemphasis 1.5 is not in 0...1", { $0.preemphasis = 1.5 }),
        ]
        for (message, change) in bad {
            XCTAssertThrowsError(try Filterbank(options(8000, bins: 40, change))) { error in
                XCTAssertEqual(error as? RecurrentError, .invalidArgument("filterbank options: " + message))
            }
        }
        let decoded = try JSONDecoder().decode(FilterbankOptions.self, from: Data(#"{"sampleRate": 16000, "melBins": 80}"#.utf8))
        XCTAssertEqual(decoded, options(16000, bins: 80))
        let changed = options(8000, bins: 23) { $0.window = .povey; $0.deltaOrder = 2 }
        XCTAssertEqual(try JSONDecoder().decode(FilterbankOptions.self, from: JSONEncoder().encode(changed)), changed)
        XCTAssertEqual(changed.featureCount, 69)
        XCTAssertEqual([changed.frameLength, changed.frameShift, changed.fftLength], [200, 80, 256])
    }
}
