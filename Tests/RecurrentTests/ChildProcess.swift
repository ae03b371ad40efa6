import Foundation
import XCTest
@testable import Recurrent
#if canImport(Glibc)
import Glibc
#endif

/// Runs a program to its end: `posix_spawn`, standard output and error into files, `waitpid` on
/// its own process id, and a deadline after which the child is killed and the call throws.
///
/// Foundation's `Process` can wait forever for a child that has already exited (seen with tmux's
/// client, which starts its server by forking), and a pipe stays open for as long as any
/// daemon that inherited it lives; neither can happen here: the child reads standard input
/// from a file (or /dev/null), writes to files, and inherits no other descriptor.
func runProgram(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                input: String? = nil, timeout: TimeInterval = 1200) throws -> CommandResult {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("recurrent-child-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let outPath = directory.appendingPathComponent("stdout").path
    let errPath = directory.appendingPathComponent("stderr").path
    var inPath = "/dev/null"
    if let input {
        inPath = directory.appendingPathComponent("stdin").path
        try Data(input.utf8).write(to: URL(fileURLWithPath: inPath))
    }

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, inPath, O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    // glibc 2.34 and later: close every other descriptor in the child (not in Swift's Glibc module).
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    if let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") {
        _ = unsafeBitCast(symbol, to: AddCloseFrom.self)(&actions, 3)
    }

    // This process's environment as it is now (tests may have set variables), unless given.
    var variables: [String] = []
    if let environment {
        variables = environment.map { "\($0.key)=\($0.value)" }
    } else {
        var entry = environ
        while let variable = entry.pointee { variables.append(String(cString: variable)); entry += 1 }
    }
    let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
    let envp: [UnsafeMutablePointer<CChar>?] = variables.map { strdup($0) } + [nil]
    defer { (argv + envp).forEach { free($0) } }

    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
    guard spawned == 0 else {
        throw RecurrentError.invalidArgument("cannot start \(executable): \(String(cString: strerror(spawned)))")
    }
    let deadline = Date().addingTimeInterval(timeout)
    var status: Int32 = 0
    while true {
        let reaped = waitpid(pid, &status, WNOHANG)
        if reaped == pid { break }
        if reaped == -1 && errno != EINTR {
            throw RecurrentError.invalidArgument("waiting for \(executable): \(String(cString: strerror(errno)))")
        }
        if Date() > deadline {
            kill(pid, SIGKILL)
            _ = waitpid(pid, &status, 0)
            let stderr = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
            throw RecurrentError.invalidArgument("\(executable) \(arguments.joined(separator: " ")) did not end within \(Int(timeout)) s; killed. Its standard error:\n\(stderr.suffix(2000))")
        }
        usleep(2_000)
    }
    // The exit status, or 128 + the signal that ended it, as a shell reports it.
    let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    let stdout = (try? Data(contentsOf: URL(fileURLWithPath: outPath))) ?? Data()
    let stderr = (try? Data(contentsOf: URL(fileURLWithPath: errPath))) ?? Data()
    return CommandResult(status: code, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
}
