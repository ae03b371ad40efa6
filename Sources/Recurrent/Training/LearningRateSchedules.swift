import Foundation

/// The learning rate as a function of the step number, relative to a base learning rate, with
/// the values of PyTorch's schedulers (`torch.optim.lr_scheduler`).
///
/// `step` counts updates already made: step 0 is the first update. The same schedule works per
/// epoch when given epoch numbers. Schedules are values, so a configuration or checkpoint can
/// store them, and a resumed run gets the same rates from the step count alone.
public indirect enum LearningRateSchedule: Codable, Equatable, Sendable {
    /// The base rate throughout.
    case constant
    /// The base rate times `gamma` every `size` steps, as `StepLR(step_size:gamma:)`.
    case step(size: Int, gamma: Double)
    /// From the base rate down to `minimum` along half a cosine over `steps` steps, as
    /// `CosineAnnealingLR(T_max: steps, eta_min: minimum)`, then staying at `minimum`
    /// (PyTorch's scheduler would climb back up; a run longer than the schedule should not).
    case cosineAnnealing(steps: Int, minimum: Double = 0)
    /// A cosine from the base rate down to `minimum` over the steps the run's limits allow: the
    /// epochs, `maxSteps`, and under `maxMinutes` the steps the measured speed fits in the time.
    /// The `Trainer` plans it; on its own it stays at the base rate.
    case cosineOverRun(minimum: Double = 0)
    /// A linear ramp over `steps` steps from `startFactor` times the rate `then` starts with up to
    /// that rate, after which `then` runs from its own step 0: `SequentialLR` of
    /// `LinearLR(start_factor:total_iters: steps)` and `then`, with the milestone at `steps`.
    case linearWarmup(steps: Int, startFactor: Double = 1.0 / 3, then: LearningRateSchedule = .constant)

    /// The learning rate for update number `step` (0-based) when the base rate is `base`.
    public func learningRate(base: Double, step: Int) -> Double {
        let step = max(step, 0)
        switch self {
        case .constant:
            return base
        case .step(let size, let gamma):
            return base * pow(gamma, Double(step / max(size, 1)))
        case .cosineAnnealing(let steps, let minimum):
            let progress = Double(min(step, steps)) / Double(max(steps, 1))
            return minimum + (base - minimum) * (1 + cos(Double.pi * progress)) / 2
        case .cosineOverRun:
            return base
        case .linearWarmup(let steps, let startFactor, let then):
            guard step < steps else { return then.learningRate(base: base, step: step - steps) }
            let factor = startFactor + (1 - startFactor) * Double(step) / Double(steps)
            return then.learningRate(base: base, step: 0) * factor
        }
    }

    /// Sets `optimizer.learningRate` for update number `step`.
    public func apply(to optimizer: any Optimizer, base: Double, step: Int) {
        optimizer.learningRate = learningRate(base: base, step: step)
    }

    /// Throws when a parameter makes no sense (a period of 0 steps, a negative factor, ...).
    public func validate() throws {
        switch self {
        case .constant:
            return
        case .step(let size, let gamma):
            guard size > 0, gamma >= 0 else {
                throw RecurrentError.invalidArgument("step schedule: needs size > 0 and gamma >= 0, got \(size) and \(gamma)")
            }
        case .cosineAnnealing(let steps, let minimum):
            guard steps > 0, minimum >= 0 else {
                throw RecurrentError.invalidArgument("cosine schedule: needs steps > 0 and minimum >= 0, got \(steps) and \(minimum)")
            }
        case .cosineOverRun(let minimum):
            guard minimum >= 0 else { throw RecurrentError.invalidArgument("cosine schedule: needs minimum >= 0, got \(minimum)") }
        case .linearWarmup(let steps, let startFactor, let then):
            guard steps >= 0, (0...1).contains(startFactor) else {
                throw RecurrentError.invalidArgument(
                    "warm-up: needs steps >= 0 and a start factor in [0, 1], got \(steps) and \(startFactor)")
            }
            try then.validate()
        }
    }
}
