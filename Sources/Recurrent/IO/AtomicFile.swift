import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file writes that either fully happen or leave things as they were.
public enum AtomicFile {
    /// Writes `data` to a fresh temporary file next to `path`, flushes it to disk, then renames
    /// it over `path`. Rename within one directory is atomic, so a reader (or a crash) sees
    /// either the old file or the complete new one, never a partial file. On failure the
    /// temporary file is removed and `RecurrentError.io` says why.
    public static func write(_ data: Data, to path: String) throws {
        func fail(_ what: String, _ code: Int32) -> RecurrentError {
            .io(path: path, reason: "\(what): \(String(cString: strerror(code)))")
        }
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        // Hidden and unique, so concurrent writers and directory listings do not trip on it.
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path

        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard descriptor >= 0 else { throw fail("cannot create a file in \(directory)", errno) }
        var closed = false
        var renamed = false
        defer {
            if !closed { close(descriptor) }
            if !renamed { unlink(temporary) }
        }

        // Replacing a file keeps its permission bits, as editing it in place would.
        var existing = stat()
        if stat(path, &existing) == 0 {
            _ = fchmod(descriptor, existing.st_mode & 0o7777)
        }

        try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            var written = 0
            while written < bytes.count {
                guard let base = bytes.baseAddress else { return }
                let result = posixWrite(descriptor, base + written, bytes.count - written)
                if result < 0 {
                    if errno == EINTR { continue }
                    throw fail("cannot write", errno)
                }
                written += result
            }
        }
        guard fsync(descriptor) == 0 else { throw fail("cannot flush to disk", errno) }
        closed = true
        guard close(descriptor) == 0 else { throw fail("cannot write", errno) }
        guard rename(temporary, path) == 0 else { throw fail("cannot replace", errno) }
        renamed = true

        // Make the rename itself durable; failing here loses nothing already promised.
        let directoryDescriptor = open(directory, O_RDONLY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            _ = fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }
}

/// Reading whole files with errors that say why (no such file, a directory, permission denied).
enum FileContents {
    static func read(_ path: String) throws -> Data {
        func fail(_ code: Int32) -> RecurrentError {
            .io(path: path, reason: "cannot read: \(String(cString: strerror(code)))")
        }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw fail(errno) }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw fail(errno) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw fail(EISDIR) }

        // Read until end of file rather than trusting the size, which may change under us.
        var data = Data(capacity: Int(max(info.st_size, 0)))
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = chunk.withUnsafeMutableBytes { posixRead(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw fail(errno)
            }
            if count == 0 { return data }
            data.append(contentsOf: chunk[0..<count])
        }
    }
}

// The C functions under other names: inside `AtomicFile` and `FileContents`, plain `write` and
// `read` would resolve to their own methods.
private func posixWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}

private func posixRead(_ descriptor: Int32, _ bytes: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(descriptor, bytes, count)
}
