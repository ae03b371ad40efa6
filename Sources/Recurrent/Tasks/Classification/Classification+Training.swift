import Foundation

extension Classifier {
    /// Trains on labelled `rows`: a seeded split into train, validation and test rows (or, given
    /// `test` rows, such as an archive's own test file, train and validation rows only), the
    /// vocabulary or the scaler fitted on the training rows only, mini-batches of similar
    /// lengths, the best validation epoch kept, and the report measured on the test rows.
    public static func train(rows: ClassificationRows, test: ClassificationRows? = nil, configuration: ClassificationConfiguration,
                             options: TrainingOptions, progress: ProgressReporter? = nil)
        throws -> (Classifier, ClassificationReport, TrainingHistory) {
        let c = configuration
        guard (0..<1).contains(c.testFraction), (0..<1).contains(c.validationFraction) else {
            throw RecurrentError.invalidArgument("the test and validation fractions must lie in [0, 1), got \(c.testFraction) and \(c.validationFraction)")
        }
        let labels = Array(Set(rows.labels)).sorted()
        guard labels.count >= 2 else {
            throw RecurrentError.invalidFile(path: rows.path,
                reason: "column \"\(rows.input.labelColumn)\" holds \(labels.isEmpty ? "no labels" : "a single class \"\(labels[0])\""); "
                    + "a classifier needs at least two")
        }
        let split = SampleSplit(count: rows.count, testFraction: test == nil ? c.testFraction : 0,
                                validationFraction: c.validationFraction, seed: options.seed)
        guard !split.train.isEmpty, test != nil || !split.test.isEmpty else {
            throw RecurrentError.invalidFile(path: rows.path, reason: "\(rows.count) rows are too few for a training part and a test part")
        }
        if let test {
            guard test.input.featuresPerStep == rows.input.featuresPerStep else {
                throw RecurrentError.invalidFile(path: test.path, reason: "\(test.input.featuresPerStep) values per step, but the "
                    + "training file \(rows.path) has \(rows.input.featuresPerStep)")
            }
            _ = try test.classIndices(in: labels)
        }
        var scaler: Scaler? = nil
        if !rows.input.isText {
            let trainingValues = split.train.map { rows.values[$0] }
            if rows.input.resolvedLayout != .row { try checkChannelsVary(trainingValues, input: rows.input, path: rows.path) }
            scaler = Self.scaler(of: trainingValues, perStep: rows.input.featuresPerStep)
        }
        let spec = ClassifierSpec(configuration: c, input: rows.input, labels: labels,
                                  vocabulary: rows.input.isText ? vocabulary(of: split.train.map { rows.tokens[$0] }, configuration: c) : nil,
                                  scaler: scaler)
        let classifier = try make(spec: spec, seed: options.seed)
        let inputs = classifier.encoded(rows)
        let classes = try rows.classIndices(in: labels)
        let classWeights = c.balanceClasses ? balancedWeights(split.train.map { classes[$0] }, classCount: labels.count) : nil
        let loss = Loss.crossEntropy(classWeights: classWeights)

        let optimizer = try Adam(classifier.model.layer.parameters, learningRate: c.learningRate)
        var options = options
        if c.cosineDecay, options.schedule == .constant { options.schedule = .cosineOverRun() }
        let trainer = Trainer(optimizer: optimizer, options: options, progress: progress)
        let trainLengths = split.train.map { inputs.length($0) }
        trainer.batchPlan = { order, epoch in
            Batching.bucketedByLength(order, lengths: trainLengths, batchSize: options.batchSize, seed: options.seed &+ UInt64(epoch))
        }
        var data = Fingerprint()
        data.add(split.train.map { classes[$0] })
        inputs.fingerprint(rows: split.train, into: &data)
        trainer.identity = try RunIdentity(configuration: c, data: data)
        trainer.validationSampleCount = split.validation.count
        // Balanced, the loss is a mean weighted by the rows' class weights.
        if let classWeights { trainer.shardWeight = { batch in batch.reduce(0) { $0 + Double(classWeights[classes[split.train[$1]]]) } } }
        // Models are kept and stopped by their validation error rate: the log-loss of a
        // classifier keeps rising as it grows confident long after its accuracy stops improving.
        // A thousandth of the mean log-loss breaks ties between equal error rates.
        let validation: (() throws -> Double)? = split.validation.isEmpty ? nil : {
            let probabilities = try classifier.probabilities(inputs, indices: split.validation)
            var errors = 0.0, logLoss = 0.0
            for (p, row) in zip(probabilities, split.validation) {
                if argmax(p) != classes[row] { errors += 1 }
                logLoss -= log(max(p[classes[row]], 1e-12))
            }
            return (errors + logLoss / 1000) / Double(split.validation.count)
        }
        let history = try trainer.fit(sampleCount: split.train.count, loss: { batch in
            let rowsOfBatch = batch.map { split.train[$0] }
            return try loss(classifier.logits(inputs.batch(rowsOfBatch)), classes: rowsOfBatch.map { classes[$0] })
        }, validationLoss: validation)
        try classifier.model.setMetadata("training", history)
        let report = try test.map { try classifier.evaluate($0) } ?? classifier.evaluate(rows, indices: split.test)
        return (classifier, report, history)
    }

    static func vocabulary(of tokens: [[String]], configuration c: ClassificationConfiguration) -> Vocabulary {
        Vocabulary(counting: tokens.joined(), maximumSize: c.maximumVocabularySize, minimumCount: max(1, c.minimumTokenCount))
    }

    /// Standardizes each of the step's features over every step of the training rows.
    static func scaler(of values: [[Float]], perStep: Int) -> Scaler {
        var columns = [[Double]](repeating: [], count: perStep)
        for row in values {
            for (i, value) in row.enumerated() { columns[i % perStep].append(Double(value)) }
        }
        return Scaler(kind: .standard, fittingColumns: columns)
    }

    /// A channel with one value over every training step (a dead or disconnected sensor) cannot
    /// be standardised: an error naming it, rather than a channel the model silently ignores.
    static func checkChannelsVary(_ values: [[Float]], input: ClassificationInput, path: String) throws {
        let width = input.featuresPerStep
        var low = [Float](repeating: .infinity, count: width), high = [Float](repeating: -.infinity, count: width)
        for row in values {
            for (i, value) in row.enumerated() {
                low[i % width] = min(low[i % width], value)
                high[i % width] = max(high[i % width], value)
            }
        }
        if let channel = (0..<width).first(where: { low[$0] == high[$0] }) {
            let name = input.featureColumns.indices.contains(channel) ? input.featureColumns[channel] : String(channel + 1)
            throw RecurrentError.invalidFile(path: path, reason: "channel \(input.resolvedLayout == .ts ? name : "\"\(name)\"") is constant "
                + "(\(low[channel]) at every step of the training sequences): it cannot be standardised; leave it out")
        }
    }

    /// n / (C * count_c): every class weighs the same in total; absent classes get 1.
    static func balancedWeights(_ classes: [Int], classCount: Int) -> [Float] {
        var counts = [Int](repeating: 0, count: classCount)
        for c in classes { counts[c] += 1 }
        return counts.map { $0 > 0 ? Float(classes.count) / Float(classCount * $0) : 1 }
    }
}
