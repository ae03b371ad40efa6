import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// XMLParser with the checks it leaves out on Linux, where `parse()` reports success for a
/// document whose elements are closed out of order (setting only an error code) or never closed
/// at all (a file cut short): `parse` runs `delegate` over `data` and throws, naming the file and
/// the line, unless the document is well-formed. `kind` names the format in the message ("SVG").
enum WellFormedXML {
    static func parse(_ data: Data, path: String, kind: String, delegate: any XMLParserDelegate,
                      failure: () -> String? = { nil }) throws {
        let tracker = ElementTracker(delegate)
        let parser = XMLParser(data: data)
        parser.shouldResolveExternalEntities = false
        parser.delegate = tracker
        let parsed = parser.parse()
        // The delegate's own refusal (it may have stopped the parser for it) comes first.
        if let reason = failure() { throw RecurrentError.invalidFile(path: path, reason: reason) }
        // Elements left open at a "successful" end: the file is cut short (the parser's own code
        // for it, if any, says less).
        if parsed, let open = tracker.open.last {
            throw RecurrentError.invalidFile(path: path, reason: "not well-formed \(kind): <\(open.name)> at line \(open.line) is never closed (is the file cut short?)")
        }
        if !parsed || parser.parserError != nil {
            // Where the parser met the error (it may have read on to the end since).
            let (line, column) = tracker.errorAt ?? (parser.lineNumber, parser.columnNumber)
            throw RecurrentError.invalidFile(path: path, reason: "not well-formed \(kind) at line \(line), column \(column): \(describe(parser.parserError))")
        }
    }

    /// What went wrong, for the codes of libxml2 (which XMLParser on Linux puts in its error, and
    /// describes only as "The operation could not be completed. (NSXMLParserErrorDomain error 76.)").
    static func describe(_ error: (any Error)?) -> String {
        guard let error = error as NSError? else { return "unknown error" }
        guard error.domain == XMLParser.errorDomain else { return error.localizedDescription }
        switch error.code {
        case 4: return "the document is empty"
        case 5: return "the document does not end where it should (text after its last element, or a tag left open)"
        case 26: return "an entity that is not declared"
        case 76: return "an end tag that does not match its start tag"
        default: return "XML error \(error.code)"
        }
    }
}

/// Passes the element and text events on (the only ones the readers use), keeping the elements
/// open at each point. (Linux's XMLParserDelegate has default methods, Darwin's optional ones.)
private final class ElementTracker: NSObject, XMLParserDelegate {
    let delegate: any XMLParserDelegate
    var open: [(name: String, line: Int)] = []
    /// The line and column of the first error reported.
    var errorAt: (line: Int, column: Int)?

    init(_ delegate: any XMLParserDelegate) { self.delegate = delegate }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        open.append((name, parser.lineNumber))
        #if canImport(FoundationXML)
        delegate.parser(parser, didStartElement: name, namespaceURI: namespaceURI, qualifiedName: qualifiedName, attributes: attributes)
        #else
        delegate.parser?(parser, didStartElement: name, namespaceURI: namespaceURI, qualifiedName: qualifiedName, attributes: attributes)
        #endif
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if !open.isEmpty { open.removeLast() }
        #if canImport(FoundationXML)
        delegate.parser(parser, didEndElement: name, namespaceURI: namespaceURI, qualifiedName: qualifiedName)
        #else
        delegate.parser?(parser, didEndElement: name, namespaceURI: namespaceURI, qualifiedName: qualifiedName)
        #endif
    }

    func parser(_ parser: XMLParser, parseErrorOccurred parseError: any Error) {
        if errorAt == nil { errorAt = (parser.lineNumber, parser.columnNumber) }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        #if canImport(FoundationXML)
        delegate.parser(parser, foundCharacters: string)
        #else
        delegate.parser?(parser, foundCharacters: string)
        #endif
    }
}
