extension Layer {
    /// Trains on whole tensors, as Keras's `model.fit` does: `inputs` [N, ...] and `targets`
    /// [N, ...] (class indices as values for cross-entropy). The last `validationFraction` of the
    /// samples (before shuffling) is held out for validation, early stopping and the best
    /// checkpoint.
    @discardableResult
    public func fit(
        inputs: Tensor, targets: Tensor, loss: Loss, optimizer: any Optimizer, options: TrainingOptions = TrainingOptions(),
        validationFraction: Double = 0, progress: ProgressReporter? = nil
    ) throws -> TrainingHistory {
        guard inputs.rank >= 1, targets.rank >= 1, inputs.shape[0] == targets.shape[0] else {
            throw RecurrentError.shapeMismatch("inputs \(inputs.shape) and targets \(targets.shape) must hold the same number of samples")
        }
        guard (0..<1).contains(validationFraction) else {
            throw RecurrentError.invalidArgument("validation fraction \(validationFraction) is outside [0, 1)")
        }
        try (self as? any InputValidating)?.validate(inputs.gathering([0]))
        if let quantization {
            throw RecurrentError.invalidArgument("the model's recurrent weights are \(quantization.rawValue), for inference only; train the float model")
        }
        let count = inputs.shape[0]
        let validationCount = Int((Double(count) * validationFraction).rounded())
        let trainCount = count - validationCount
        let validationIndices = Array(trainCount..<count)
        let trainer = Trainer(optimizer: optimizer, options: options, progress: progress)
        var data = Fingerprint()
        data.add([inputs, targets])
        trainer.identity = try RunIdentity(configuration: ["loss": "\(loss)", "validationFraction": "\(validationFraction)"], data: data)
        trainer.validationSampleCount = validationIndices.count
        let validation: (() throws -> Double)? = validationIndices.isEmpty ? nil : {
            Double(try loss(self(Variable(inputs.gathering(validationIndices))), targets.gathering(validationIndices)).value.scalar)
        }
        return try trainer.fit(sampleCount: trainCount, loss: { batch in
            try loss(self(Variable(inputs.gathering(batch))), targets.gathering(batch))
        }, validationLoss: validation)
    }

    /// The model's output for `inputs`, computed without recording and with dropout off.
    public func predict(_ inputs: Tensor) throws -> Tensor {
        try (self as? any InputValidating)?.validate(inputs)
        return GradientMode.withoutRecording { self(Variable(inputs)) }.value
    }
}
