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

    /// ArgumentParser answers an unknown option with the whole usage and exit status 64: here it
    /// gets one line naming the option and the verb, and exit status 1, as other bad input does.
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch {
            let message = self.message(for: error)
            guard message.hasPrefix("Unknown option") else { exit(withError: error) }
            let verb = verbName(arguments)
            FileHandle.standardError.write(Data("\(verb): error: \(message) (\(verb) --help lists the options)\n".utf8))
            exit(withError: ExitCode.failure)
        }
    }

    /// "recurrent quantize": the command words that lead `arguments`.
    static func verbName(_ arguments: [String]) -> String {
        var words = ["recurrent"], command: ParsableCommand.Type = RecurrentCommand.self
        for argument in arguments {
            guard let sub = command.configuration.subcommands.first(where: { $0.configuration.commandName == argument }) else { break }
            words.append(argument)
            command = sub
        }
        return words.joined(separator: " ")
    }
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

/// The file's one column of values, for a command of one signal or series run without --column
/// (a date column and a value column, as most such files are), said on standard error; when
/// there is none or several, an error whose reason is `otherwise` given the columns of numbers
/// (" (the columns of numbers are ...)", or nothing).
func valueColumn(of table: CSVTable, excluding: Set<String>, otherwise: (String) -> String) throws -> String {
    let candidates = TimeSeriesData.valueColumns(in: table, excluding: excluding)
    guard candidates.count == 1 else {
        let which = candidates.isEmpty ? "" : " (the columns of numbers are \(candidates.map { "\"\($0)\"" }.joined(separator: ", ")))"
        throw RecurrentError.invalidFile(path: table.path, reason: otherwise(which))
    }
    note("reading \"\(candidates[0])\", the file's one column of values (--column names another)")
    return candidates[0]
}

/// Lines for standard error: progress and notes, so standard output stays for results.
func note(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
