import Foundation
import XCTest
@testable import Recurrent

final class TokenizerTests: XCTestCase {
    func testWordsKeepPunctuationApartAndInnerApostrophesIn() {
        let tokenizer = Tokenizer(level: .word, lowercase: true)
        let tokens = tokenizer.tokenize("O Romeo, Romeo! wherefore art thou Romeo? Don't 'tis (so).")
        XCTAssertEqual(tokens, ["o", "romeo", ",", "romeo", "!", "wherefore", "art", "thou", "romeo", "?",
                                "don't", "'", "tis", "(", "so", ")", "."])
        XCTAssertEqual(Tokenizer(level: .word).detokenize(["Hello", ",", "world", "(", "yes", ")", "!"]), "Hello, world (yes)!")
    }

    func testCharactersAndBytesRoundTrip() {
        let text = "Café — naïve\n"
        for level in [Tokenizer.Level.char, .byte] {
            let tokenizer = Tokenizer(level: level)
            XCTAssertEqual(tokenizer.detokenize(tokenizer.tokenize(text)), text, "\(level)")
        }
        XCTAssertEqual(Tokenizer(level: .char).tokenize(text).count, 13)
        XCTAssertEqual(Tokenizer(level: .byte).tokenize(text).count, text.utf8.count)
    }

    func testVocabularyOrdersByFrequencyCapsAndMapsUnknowns() throws {
        let tokens = ["b", "a", "c", "a", "b", "a", "d"]
        let vocabulary = Vocabulary(counting: tokens, specials: ["<pad>"], maximumSize: 4)
        XCTAssertEqual(vocabulary.tokens, ["<unk>", "<pad>", "a", "b"])
        XCTAssertEqual(vocabulary.ids(["a", "b", "c", "zzz"]), [2, 3, 0, 0])
        XCTAssertEqual(vocabulary.token(99), "<unk>")
        let decoded = try JSONDecoder().decode(Vocabulary.self, from: JSONEncoder().encode(vocabulary))
        XCTAssertEqual(decoded, vocabulary)
        XCTAssertThrowsError(try JSONDecoder().decode(Vocabulary.self, from: Data(#"{"tokens": ["a"]}"#.utf8)))
    }
}
