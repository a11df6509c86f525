// SPDX-License-Identifier: Apache-2.0

import Foundation
import Testing

@testable import SwitchyardCore

/// The lexical guard of semantic hits, on the labelled prompt pairs the semantic cache is measured
/// with (Tests/python/data/semantic_pairs.jsonl).
struct PromptSignatureTests {
    struct Pair: Decodable {
        var a: String
        var b: String
        var expect: String
        var kind: String
    }

    static let pairs: [Pair] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../python/data/semantic_pairs.jsonl")
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONDecoder().decode(Pair.self, from: Data($0.utf8)) }
    }()

    @Test("Every look-alike that differs in a number, a negation, a unit, a name or a constraint is told apart")
    func lookAlikesDisagree() throws {
        let misses = Self.pairs.filter { $0.expect == "miss" && $0.kind != "language" && $0.kind != "topic" }
        #expect(misses.count >= 50)
        for pair in misses {
            let agrees = PromptSignature(pair.a).agrees(with: PromptSignature(pair.b))
            #expect(!agrees, "\(pair.kind): \(pair.a) | \(pair.b)")
        }
    }

    @Test("Most paraphrases agree: the guard costs little recall")
    func paraphrasesAgree() throws {
        let paraphrases = Self.pairs.filter { $0.expect == "hit" }
        #expect(paraphrases.count >= 65)
        let disagreeing = paraphrases.filter { !PromptSignature($0.a).agrees(with: PromptSignature($0.b)) }
        for pair in disagreeing { print("guard blocks: \(pair.a) | \(pair.b)") }
        // Measured: 12 of 75 (docs/caching.md lists them); most rename a thing ("UK"/"British",
        // "midnight"/"00:00") or negate in other words ("keep the changes"/"without losing").
        #expect(Double(disagreeing.count) <= Double(paraphrases.count) * 0.18)
    }

    @Test("Signatures read numbers, units in order, names in any case, negation and the language")
    func reading() {
        let signature = PromptSignature("Convert 1,000 km to miles for my iPhone app in Paris, not Rome's.")
        #expect(signature.numbers == ["1000"])
        #expect(signature.units == ["km", "mile"])
        #expect(signature.names == ["iphone", "paris", "rome"])
        #expect(signature.negated)
        #expect(signature.language == "en")
        #expect(PromptSignature("Comment est-ce que je change mon mot de passe ?").language == "fr")
        #expect(!PromptSignature("Convert 2 GB to MB").agrees(with: PromptSignature("Convert 2 MB to GB")))
        #expect(PromptSignature("Convert $100 to yen").units == ["usd", "jpy"])
        #expect(!PromptSignature("What is $100 in EUR?").agrees(with: PromptSignature("What is €100 in EUR?")))
        #expect(!PromptSignature("ask for a 5% raise").agrees(with: PromptSignature("ask for a 5 dollar raise")))
        #expect(PromptSignature("why does my JavaScript fail").agrees(with: PromptSignature("javascript failing: why")))
        #expect(PromptSignature("").agrees(with: PromptSignature("")))
    }
}
