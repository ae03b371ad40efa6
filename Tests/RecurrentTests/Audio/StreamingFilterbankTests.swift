import XCTest
@testable import Recurrent

/// StreamingFilterbank fed in chunks gives `Filterbank.features`' rows bit for bit, each as
/// soon as it is determined.
final class StreamingFilterbankTests: XCTestCase {
    /// Rows of `filterbank` over `samples` fed `chunk` samples at a time, with how many rows each
    /// push returned.
    func stream(_ samples: [Float], _ filterbank: Filterbank, chunk: Int) -> (rows: [Float], counts: [Int]) {
        var streaming = StreamingFilterbank(filterbank)
        var rows: [Float] = [], counts: [Int] = []
        for start in stride(from: 0, to: samples.count, by: chunk) {
            let part = streaming.push(Array(samples[start..<min(start + chunk, samples.count)]))
            XCTAssertEqual(part.shape.last, filterbank.featureCount)
            rows += part.scalars
            counts.append(part.shape[0])
        }
        let last = streaming.finish()
        rows += last.scalars
        counts.append(last.shape[0])
        XCTAssertEqual(streaming.push(samples).shape, [0, filterbank.featureCount], "nothing after finish")
        return (rows, counts)
    }

    func testChunksGiveTheOfflineRowsBitForBit() throws {
        let fox = try AudioFixtures.clip("foxtrot-8k.wav").samples
        for deltaOrder in 0...2 {
            var options = FilterbankOptions(sampleRate: 8000)
            options.deltaOrder = deltaOrder
            let filterbank = try Filterbank(options)
            let offline = filterbank.features(fox)
            for chunk in [800, 1, 37, 1601, fox.count] {
                let (rows, counts) = stream(fox, filterbank, chunk: chunk)
                XCTAssertEqual(rows, offline.scalars, "deltaOrder \(deltaOrder), chunks of \(chunk)")
                // Each push returns the rows whose look-ahead (2 frames per delta order) has arrived.
                var pushed = 0
                for (index, count) in counts.dropLast().enumerated() {
                    pushed = min(fox.count, pushed + chunk)
                    let known = filterbank.frameCount(sampleCount: pushed)
                    XCTAssertEqual(counts[..<(index + 1)].reduce(0, +), max(0, known - 2 * deltaOrder),
                                   "deltaOrder \(deltaOrder), chunk \(chunk), push \(index) returned \(count)")
                }
            }
        }
    }

    func testSixteenKilohertzWithDeltasAndLongShifts() throws {
        // 400-sample windows: the product's depth runs past one packed block (256).
        let fox16 = try AudioFixtures.reference("foxtrot_16k").scalars
        var options = FilterbankOptions(sampleRate: 16000)
        options.melBins = 80
        options.deltaOrder = 1
        let filterbank = try Filterbank(options)
        XCTAssertEqual(stream(fox16, filterbank, chunk: 1600).rows, filterbank.features(fox16).scalars)
        // Shifts longer than a frame skip samples between frames, across chunk boundaries too.
        options.frameShiftMs = 40
        let sparse = try Filterbank(options)
        XCTAssertEqual(stream(fox16, sparse, chunk: 333).rows, sparse.features(fox16).scalars)
        XCTAssertEqual(sparse.features(fox16).shape[0], 24)
    }

    func testTooShortForAFrame() throws {
        var options = FilterbankOptions(sampleRate: 8000)
        options.deltaOrder = 2
        let (rows, counts) = stream([Float](repeating: 0.25, count: 150), try Filterbank(options), chunk: 100)
        XCTAssertEqual(rows, [])
        XCTAssertEqual(counts, [0, 0, 0])
    }
}

extension StreamingFilterbankTests {
    func testTheMatrixProductRouteStreamsBitForBit() throws {
        // A 200-point transform (no rounding to 256) goes through the cosine/sine product, whose
        // small blocks are padded to the packed path: rows one at a time must match the whole.
        let fox = try AudioFixtures.clip("foxtrot-8k.wav").samples
        var options = FilterbankOptions(sampleRate: 8000)
        options.roundToPowerOfTwo = false
        options.deltaOrder = 1
        let filterbank = try Filterbank(options)
        XCTAssertNil(filterbank.fft)
        for chunk in [1, 37, 800] {
            XCTAssertEqual(stream(fox, filterbank, chunk: chunk).rows, filterbank.features(fox).scalars, "chunks of \(chunk)")
        }
    }
}
