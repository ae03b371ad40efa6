/// The choices every task's network shares: the recurrent cell, its size and depth, dropout and
/// Adam's learning rate. Each task's configuration adopts it, so that one piece of code (the
/// command line's training options) can set them on any task.
public protocol RecurrentHyperparameters {
    var cell: CellKind { get set }
    var hiddenSize: Int { get set }
    var numLayers: Int { get set }
    var dropout: Float { get set }
    var learningRate: Double { get set }
}

extension ClassificationConfiguration: RecurrentHyperparameters {}
extension ForecastConfiguration: RecurrentHyperparameters {}
extension LanguageModelConfiguration: RecurrentHyperparameters {}
extension Seq2SeqConfiguration: RecurrentHyperparameters {}
