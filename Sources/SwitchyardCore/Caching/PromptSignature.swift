// SPDX-License-Identifier: Apache-2.0

import Foundation

/// The words of a prompt that an embedding barely weighs but that change the answer: numbers,
/// negations, names, units, polar qualifiers and the language.
///
/// Sentence embeddings place "convert 5 km to miles" and "convert 8 km to miles", or "a vegan
/// recipe" and "a recipe that is not vegan", close together. A semantic answer is served only when
/// the two prompts' signatures agree (``agrees(with:)``), so such look-alikes never share an answer
/// however similar their vectors are (docs/caching.md measures both sides of this trade).
public struct PromptSignature: Sendable, Equatable {
    /// Numbers, digits or number words, as digits (`1,000` and `1000` agree), sorted.
    public var numbers: [String] = []
    /// Whether the prompt negates or excludes something.
    public var negated = false
    /// Names: capitalised words inside a sentence, acronyms and mixed-case words, lower-cased.
    public var names: Set<String> = []
    /// Units and currencies, one name per unit, in the order they appear ("Celsius to Fahrenheit"
    /// is not "Fahrenheit to Celsius").
    public var units: [String] = []
    /// Qualifiers that flip an answer (beginner/expert, short/long, formal/casual), by pole.
    public var qualifiers: Set<String> = []
    /// The language guessed from function words (`en`, `fr`, `de`, `es`, `it`, `pt`, `nl`), or `""`.
    public var language = ""
    /// Every word, lower-cased, in order (hashed: the index keeps one per entry).
    var words: [Int] = []
    /// The first ``stemLength`` characters of every word, hashed and sorted, for finding names.
    var stems: [Int] = []

    /// How much of a word identifies a name ("Pythagorean" and "Pythagoras'" share a name).
    static let stemLength = 6

    /// The longest text read; the rest of a longer prompt is ignored (prompts that long are not embedded).
    public static let maxCharacters = 100_000

    /// Reads the signature of `text`.
    public init(_ text: String) {
        var languageVotes: [String: Int] = [:]
        var startOfSentence = true
        for word in Self.words(text.prefix(Self.maxCharacters)) {
            var lower = word.text.lowercased()
            // A possessive is its name: "Australia's capital" speaks of Australia.
            if lower.hasSuffix("'s") || lower.hasSuffix("’s") { lower.removeLast(2) }
            defer { startOfSentence = word.endsSentence }
            self.words.append(lower.hashValue)
            self.stems.append(String(lower.prefix(Self.stemLength)).hashValue)
            if let number = Self.number(Substring(lower)) {
                self.numbers.append(number)
                continue
            }
            if Self.negations.contains(lower) || lower.hasSuffix("n't") || lower.hasSuffix("n’t") {
                self.negated = true
            }
            if let unit = Self.units[lower] { self.units.append(unit) }
            if let pole = Self.qualifiers[lower] { self.qualifiers.insert(pole) }
            for (language, words) in Self.functionWords where words.contains(lower) {
                languageVotes[language, default: 0] += 1
            }
            if Self.isName(word.text, startOfSentence: startOfSentence) { self.names.insert(lower) }
        }
        self.numbers.sort()
        self.stems.sort()
        let ranked = languageVotes.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        if let best = ranked.first, best.value >= 2 || ranked.count == 1 { self.language = best.key }
    }

    /// Whether a prompt with this signature may be answered with `other`'s answer.
    ///
    /// - Numbers, negation and qualifiers must be equal.
    /// - Units must be equal, in order, when both prompts name units ("how long to boil an egg"
    ///   and "how many minutes to boil an egg" ask the same).
    /// - Each prompt's names must occur among the other's words, in any case and by their first six
    ///   letters ("JavaScript" and "javascript" agree, so do "Pythagorean" and "Pythagoras"; "Paris"
    ///   and "Madrid" do not).
    /// - The languages must be equal when both are recognised.
    /// - Two prompts that differ in exactly one word ("… with requests?" and "… with httpx?") are a
    ///   substitution, not a paraphrase: they never agree.
    public func agrees(with other: PromptSignature) -> Bool {
        guard self.numbers == other.numbers, self.negated == other.negated, self.qualifiers == other.qualifiers
        else { return false }
        if !self.units.isEmpty, !other.units.isEmpty, self.units != other.units { return false }
        if !self.language.isEmpty, !other.language.isEmpty, self.language != other.language { return false }
        for name in self.names where !other.hasStem(of: name) { return false }
        for name in other.names where !self.hasStem(of: name) { return false }
        if self.words.count == other.words.count, self.words != other.words {
            let differing = zip(self.words, other.words).lazy.filter { $0 != $1 }.count
            if differing == 1 { return false }
        }
        return true
    }

    /// Whether the prompt has a word that starts like `name`.
    private func hasStem(of name: String) -> Bool {
        let stem = String(name.prefix(Self.stemLength)).hashValue
        var low = 0
        var high = self.stems.count
        while low < high {
            let middle = (low + high) / 2
            if self.stems[middle] < stem { low = middle + 1 } else { high = middle }
        }
        return low < self.stems.count && self.stems[low] == stem
    }

    /// A word and whether a sentence ends after it.
    struct Word {
        var text: Substring
        var endsSentence: Bool
    }

    /// Splits `text` into words: letters, digits and the marks inside numbers and contractions.
    static func words(_ text: Substring) -> [Word] {
        var words: [Word] = []
        var start: String.Index?
        var index = text.startIndex
        func close(at end: String.Index, endsSentence: Bool) {
            if let begin = start {
                var word = text[begin..<end]
                // A trailing mark is punctuation, not part of the word ("1,000," or "don't.").
                while let last = word.last, !last.isLetter, !last.isNumber { word = word.dropLast() }
                if !word.isEmpty { words.append(Word(text: word, endsSentence: endsSentence)) }
                start = nil
            } else if endsSentence, !words.isEmpty {
                words[words.count - 1].endsSentence = true
            }
        }
        while index < text.endIndex {
            let character = text[index]
            if Self.symbols.contains(character) {
                // A currency or percent sign is a word of its own: "$100" and "€100" differ.
                close(at: index, endsSentence: false)
                words.append(Word(text: text[index...index], endsSentence: false))
            } else if character.isLetter || character.isNumber {
                if start == nil { start = index }
            } else if start != nil,
                character == "'" || character == "’" || character == "." || character == ","
                    || character == "-"
            {
                // Kept inside a word when a letter or digit follows ("don't", "3.5", "1,000", "gpt-4").
                let next = text.index(after: index)
                if next < text.endIndex, text[next].isLetter || text[next].isNumber {
                    index = next
                    continue
                }
                close(at: index, endsSentence: character == ".")
            } else {
                close(
                    at: index,
                    endsSentence: character == "?" || character == "!" || character == "\n" || character == ":"
                )
            }
            index = text.index(after: index)
        }
        close(at: text.endIndex, endsSentence: true)
        return words
    }

    /// Signs read as words of their own (the units table names them).
    static let symbols: Set<Character> = ["$", "€", "£", "¥", "%", "°"]

    /// `lower` as digits when it is a number or a number word.
    static func number(_ lower: Substring) -> String? {
        if let word = Self.numberWords[String(lower)] { return word }
        guard lower.first?.isNumber == true else { return nil }
        var digits = ""
        for character in lower {
            if character.isNumber || character == "." {
                digits.append(character)
            } else if character == "," {
                continue
            } else {
                // "5km", "3rd", "10x": the number, with its suffix as part of it.
                digits.append(character)
            }
        }
        return digits
    }

    /// A capitalised word inside a sentence, or an acronym or mixed-case word anywhere.
    static func isName(_ word: Substring, startOfSentence: Bool) -> Bool {
        guard let first = word.first, first.isLetter, word.count > 1 || !startOfSentence else { return false }
        let uppercase = word.filter(\.isUppercase).count
        if uppercase >= 2 { return true }  // API, PostgreSQL, iPhone's "P" plus the first
        if uppercase == 1, !first.isUppercase { return true }  // iPhone, macOS
        if first.isUppercase, !startOfSentence, word != "I" { return true }
        return false
    }

    static let negations: Set<String> = [
        "not", "no", "never", "without", "except", "excluding", "none", "neither", "nor", "cannot", "nothing",
        "ne", "pas", "nicht", "kein", "keine", "nunca", "sin", "non", "senza", "nem", "sem",
    ]

    /// Number words; "one" is left out, as it is mostly a pronoun ("which one").
    static let numberWords: [String: String] = [
        "zero": "0", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
        "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14",
        "fifteen": "15", "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19", "twenty": "20",
        "thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80",
        "ninety": "90", "hundred": "100", "thousand": "1000", "million": "1000000", "billion": "1000000000",
        "dozen": "12", "half": "0.5", "twice": "x2", "double": "x2", "triple": "x3",
    ]

    /// Unit words → one name per unit.
    static let units: [String: String] = {
        let groups: [String: [String]] = [
            "km": ["km", "kms", "kilometer", "kilometers", "kilometre", "kilometres"],
            "mile": ["mi", "mile", "miles", "mph"], "m": ["m", "meter", "meters", "metre", "metres"],
            "cm": ["cm", "centimeter", "centimeters"], "mm": ["mm", "millimeter", "millimeters"],
            "ft": ["ft", "foot", "feet"], "in": ["inch", "inches"], "yd": ["yard", "yards"],
            "c": ["c", "celsius", "centigrade", "°c"], "f": ["f", "fahrenheit", "°f"], "k": ["kelvin"],
            "kg": ["kg", "kgs", "kilogram", "kilograms", "kilo", "kilos"], "g": ["g", "gram", "grams"],
            "lb": ["lb", "lbs", "pound", "pounds"], "oz": ["oz", "ounce", "ounces"],
            "l": ["l", "liter", "liters", "litre", "litres"], "ml": ["ml", "milliliter", "milliliters"],
            "gal": ["gallon", "gallons"], "cup": ["cup", "cups"], "tbsp": ["tbsp", "tablespoon", "tablespoons"],
            "tsp": ["tsp", "teaspoon", "teaspoons"],
            "kb": ["kb", "kilobyte", "kilobytes"], "mb": ["mb", "megabyte", "megabytes"],
            "gb": ["gb", "gigabyte", "gigabytes"], "tb": ["tb", "terabyte", "terabytes"],
            "bit": ["bit", "bits"], "byte": ["byte", "bytes"],
            "ms": ["ms", "millisecond", "milliseconds"], "s": ["sec", "secs", "second", "seconds"],
            "min": ["min", "mins", "minute", "minutes"], "h": ["hr", "hrs", "hour", "hours"],
            "day": ["day", "days"], "week": ["week", "weeks"], "month": ["month", "months"],
            "year": ["year", "years"],
            "usd": ["usd", "dollar", "dollars", "$"], "eur": ["eur", "euro", "euros", "€"],
            "gbp": ["gbp", "sterling", "£"], "jpy": ["jpy", "yen", "¥"], "percent": ["percent", "percentage", "%"],
            "w": ["watt", "watts"], "kw": ["kw", "kilowatt", "kilowatts"], "kwh": ["kwh"],
            "v": ["volt", "volts"], "hz": ["hz", "hertz"], "ghz": ["ghz"], "mhz": ["mhz"],
            "calorie": ["calorie", "calories", "kcal"], "psi": ["psi"], "bar": ["bar"],
        ]
        var table: [String: String] = [:]
        for (unit, words) in groups { for word in words { table[word] = unit } }
        return table
    }()

    /// Qualifier words → the pole they stand for; words of one pole agree ("brief" and "short").
    /// Words paraphrases add freely ("best", "more", "first") are left out.
    static let qualifiers: [String: String] = {
        let poles: [String: [String]] = [
            "novice": ["beginner", "beginners", "novice", "novices", "newbie", "newbies", "introductory"],
            "expert": ["expert", "experts", "advanced", "professional", "professionals", "senior"],
            "short": ["short", "shorter", "brief", "briefly", "concise", "concisely", "succinct", "tldr"],
            "long": ["long-form", "detailed", "lengthy", "elaborate", "thorough", "comprehensive", "in-depth"],
            "formal": ["formal", "formally"],
            "casual": ["casual", "casually", "informal", "informally", "playful"],
            "child": ["child", "children", "kid", "kids", "toddler", "toddlers"],
            "cheap": ["cheap", "cheapest", "budget", "inexpensive", "affordable"],
            "costly": ["expensive", "luxury", "luxurious", "premium"],
            "increase": ["increase", "raise", "maximize", "maximise", "ascending"],
            "decrease": ["decrease", "reduce", "minimize", "minimise", "descending"],
            "hot": ["hot", "warm"], "cold": ["cold", "chilled", "frozen", "iced"],
            "vegan": ["vegan", "plant-based"], "vegetarian": ["vegetarian"],
            "sync": ["synchronous", "sync", "blocking"], "async": ["asynchronous", "async", "non-blocking"],
            "pros": ["pros", "advantages", "benefits"], "cons": ["cons", "disadvantages", "drawbacks", "downsides"],
            "include": ["including", "include", "includes", "inclusive"],
        ]
        var table: [String: String] = [:]
        for (pole, words) in poles { for word in words { table[word] = pole } }
        return table
    }()

    /// Frequent function words per language: enough to tell the common ones apart in a sentence.
    static let functionWords: [String: Set<String>] = [
        "en": [
            "the", "is", "are", "what", "how", "do", "does", "i", "my", "you", "to", "of", "and", "in", "for",
            "with", "can", "should", "which", "why", "when", "where", "it", "this", "that", "a", "an",
        ],
        "fr": [
            "le", "la", "les", "est", "sont", "quel", "quelle", "comment", "je", "mon", "ma", "vous", "de",
            "des", "et", "pour", "avec", "une", "un", "du", "que", "qui", "pourquoi", "où", "est-ce",
        ],
        "de": [
            "der", "die", "das", "ist", "sind", "was", "wie", "ich", "mein", "meine", "sie", "und", "für",
            "mit", "ein", "eine", "zu", "von", "warum", "wo", "welche", "kann", "ich",
        ],
        "es": [
            "el", "la", "los", "las", "es", "son", "qué", "cómo", "como", "yo", "mi", "usted", "y", "para",
            "con", "una", "un", "del", "por", "cuál", "dónde", "puedo",
        ],
        "it": [
            "il", "lo", "gli", "è", "sono", "che", "come", "io", "mio", "mia", "per", "con", "una", "uno",
            "della", "perché", "dove", "posso",
        ],
        "pt": [
            "o", "os", "as", "é", "são", "que", "como", "eu", "meu", "minha", "você", "para", "com", "uma",
            "um", "do", "da", "por", "onde", "posso",
        ],
        "nl": [
            "de", "het", "een", "is", "zijn", "wat", "hoe", "ik", "mijn", "jij", "en", "voor", "met", "van",
            "waarom", "waar", "kan",
        ],
    ]
}
