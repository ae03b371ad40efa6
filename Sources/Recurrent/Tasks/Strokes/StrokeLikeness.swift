/// How alike two drawings look, whatever their stroke order and direction: the symmetric
/// Chamfer distance between points sampled along their strokes, after each drawing is moved to
/// its bounding box's centre and scaled so that the box's longer side is 1.
///
/// Normalising position and size compares shapes as a reader would (a 口 drawn small and low is
/// still 口), while the aspect ratio stays (一 is wide and flat, 口 square).
public struct DrawingShape: Sendable {
    /// Points every `spacing` along the strokes of the normalised drawing (empty for a drawing
    /// without points).
    public let points: [SIMD2<Float>]

    public init(_ strokes: [[DrawingPoint]], spacing: Double = 0.03) {
        let all = strokes.joined()
        guard let first = all.first else { points = []; return }
        var (minX, maxX, minY, maxY) = (first.x, first.x, first.y, first.y)
        for p in all { minX = min(minX, p.x); maxX = max(maxX, p.x); minY = min(minY, p.y); maxY = max(maxY, p.y) }
        let size = max(maxX - minX, maxY - minY, 1e-9), (cx, cy) = ((minX + maxX) / 2, (minY + maxY) / 2)
        func normalised(_ p: DrawingPoint) -> SIMD2<Double> { SIMD2((p.x - cx) / size, (p.y - cy) / size) }
        var sampled: [SIMD2<Float>] = []
        for stroke in strokes {
            guard let start = stroke.first else { continue }
            var previous = normalised(start)
            sampled.append(SIMD2<Float>(previous))
            for point in stroke.dropFirst() {
                let next = normalised(point), length = ((next - previous) * (next - previous)).sum().squareRoot()
                let pieces = max(1, Int((length / spacing).rounded(.up)))
                for k in 1...pieces { sampled.append(SIMD2<Float>(previous + (next - previous) * (Double(k) / Double(pieces)))) }
                previous = next
            }
        }
        points = sampled
    }

    /// The mean distance from each of `points` to the nearest of `other`'s.
    func meanNearestDistance(to other: DrawingShape) -> Float {
        var total: Float = 0
        for p in points {
            var nearest = Float.infinity
            for q in other.points {
                let d = p - q
                nearest = min(nearest, (d * d).sum())
            }
            total += nearest.squareRoot()
        }
        return total / Float(points.count)
    }

    /// The symmetric Chamfer distance, in units of the drawings' longer sides: 0 for the same
    /// shape; infinity when either drawing is empty.
    public func distance(to other: DrawingShape) -> Float {
        guard !points.isEmpty, !other.points.isEmpty else { return .infinity }
        return (meanNearestDistance(to: other) + other.meanNearestDistance(to: self)) / 2
    }
}

/// Whether drawings asked for as particular characters look most like those characters'
/// reference drawings, among all the references: a measure of conditioned generation that runs
/// the model freely, as a user would, rather than teacher-forced like the log-likelihood.
public struct NearestReferenceScore: Sendable {
    /// For each drawing, the rank of the asked-for character's reference among all references by
    /// distance (0: the nearest).
    public var ranks: [Int]
    /// For each drawing, the index of the nearest reference.
    public var nearest: [Int]
    /// The number of references (chance of a hit: 1 in this).
    public var referenceCount: Int

    public var hits: Int { ranks.filter { $0 == 0 }.count }
    public func hits(within top: Int) -> Int { ranks.filter { $0 < top }.count }

    /// `drawings[i]` was asked to draw the character of `references[asked[i]]`. Ties count
    /// against the drawing: its rank is the number of references at least as near as its own,
    /// other than its own.
    public init(drawings: [[[DrawingPoint]]], asked: [Int], references: [[[DrawingPoint]]]) throws {
        guard drawings.count == asked.count else {
            throw RecurrentError.invalidArgument("\(drawings.count) drawings but \(asked.count) asked-for characters")
        }
        if let bad = asked.first(where: { !references.indices.contains($0) }) {
            throw RecurrentError.invalidArgument("asked-for character \(bad) has no reference (there are \(references.count))")
        }
        let referenceShapes = references.map { DrawingShape($0) }, drawingShapes = drawings.map { DrawingShape($0) }
        var ranks = [Int](repeating: 0, count: drawings.count), nearest = ranks
        ranks.withUnsafeMutableBufferPointer { rankOut in
            nearest.withUnsafeMutableBufferPointer { nearestOut in
                Parallel.forEach(parts: drawingShapes.count) { i in
                    let distances = referenceShapes.map { drawingShapes[i].distance(to: $0) }
                    let own = distances[asked[i]]
                    rankOut[i] = distances.indices.filter { $0 != asked[i] && !(distances[$0] > own) }.count
                    nearestOut[i] = distances.indices.min { (distances[$0], $0) < (distances[$1], $1) } ?? 0
                }
            }
        }
        self.ranks = ranks
        self.nearest = nearest
        referenceCount = references.count
    }
}

extension StrokeModel {
    /// Draws every character the model knows `samplesPerCharacter` times at `temperature` and
    /// scores the drawings against `references` (base forms of the same characters, as the
    /// model trained on; the first drawing of each label counts). Returns the score, the
    /// characters asked for (indices into `characters`) and the drawings. `firstOffsetFromData`
    /// as for `generate`.
    public func nearestReferenceScore(references: [StrokeDrawing], temperature: Double = 0.2, samplesPerCharacter: Int = 1,
                                      seed: UInt64 = 0, firstOffsetFromData: Bool = false) throws -> (score: NearestReferenceScore, asked: [Int], drawings: [[[DrawingPoint]]]) {
        guard samplesPerCharacter >= 1 else { throw RecurrentError.invalidArgument("samples per character must be at least 1, got \(samplesPerCharacter)") }
        var byLabel: [String: [[DrawingPoint]]] = [:]
        for drawing in references where drawing.variant == nil && byLabel[drawing.label] == nil { byLabel[drawing.label] = drawing.strokes }
        let referenceStrokes = try characters.map { character in
            guard let strokes = byLabel[character] else {
                throw RecurrentError.invalidArgument("no reference drawing of \(character) (the model knows \(characters.count) characters; give their SVG files)")
            }
            return strokes
        }
        let asked = (0..<samplesPerCharacter).flatMap { _ in characters.indices }
        let drawings = try generate(characters: asked, temperature: temperature, seed: seed, firstOffsetFromData: firstOffsetFromData)
        return (try NearestReferenceScore(drawings: drawings, asked: asked, references: referenceStrokes), asked, drawings)
    }
}
