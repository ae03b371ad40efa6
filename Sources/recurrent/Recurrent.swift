import ArgumentParser
import Foundation
import Recurrent

@main
struct RecurrentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recurrent",
        abstract: "Recurrent neural networks for sequences: train, import, export, run and inspect models.",
        subcommands: [
            DemoCommand.self,
            ForecastCommand.self,
            ClassifyCommand.self,
            TextCommand.self,
            Seq2SeqCommand.self,
            ChatCommand.self,
            SpeechCommand.self,
            MusicCommand.self,
            StrokesCommand.self,
            ImportCommand.self,
            ExportCommand.self,
            RunCommand.self,
            QuantizeCommand.self,
            InfoCommand.self,
            ServeCommand.self,
            AnomalyCommand.self,
        ]
    )
}

/// Runs a command body and turns Recurrent's errors into one line on standard error and exit
/// code 1, instead of a stack of wrapped descriptions.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as RecurrentError {
        FileHandle.standardError.write(Data("recurrent: error: \(error.description)\n".utf8))
        throw ExitCode.failure
    } catch let interrupted as TrainingInterrupted {
        FileHandle.standardError.write(Data("recurrent: \(interrupted.description)\n".utf8))
        throw ExitCode(exitCode(for: interrupted))
    }
}

/// Lines for standard error: progress and notes, so standard output stays for results.
func note(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
