// SPDX-License-Identifier: Apache-2.0

import Foundation

/// A validated `POST /v1/embeddings` body; `body` keeps the client's bytes for forwarding.
public struct EmbeddingsRequest: Sendable {
    /// The model name the client asked for.
    public var model: String
    /// The texts to embed, in order.
    public var inputs: [String]
    /// Requested vector size, if the client set `dimensions`.
    public var dimensions: Int?
    /// `float` (default) or `base64`.
    public var encodingFormat: String
    /// The client's body exactly as received.
    public var body: [UInt8]

    /// Most inputs per request, as OpenAI allows.
    public static let maxInputs = 2048
    /// Largest `dimensions`; no embedding model in use has more, and it bounds the size of an answer.
    public static let maxDimensions = 16384

    /// Validates `body`, throwing a 400 ``GatewayError`` that names the faulty field.
    public init(body: [UInt8]) throws(GatewayError) {
        let wire: Wire = try decodeRequestBody(Wire.self, from: body, integers: ["dimensions"])
        guard let model = wire.model, !model.isEmpty else {
            throw .invalidRequest(
                "`model` is required: name an embedding model such as `text-embedding-3-small`.",
                param: "model"
            )
        }
        guard let input = wire.input else {
            throw .invalidRequest("`input` is required: a string or an array of strings.", param: "input")
        }
        // Counted before anything is allocated for token lists.
        if input.count > Self.maxInputs {
            throw .arrayTooLong("input", count: input.count, limit: Self.maxInputs, noun: "items")
        }
        switch input {
        case .one(let text): self.inputs = [text]
        case .many(let texts): self.inputs = texts
        case .tokens(let count): self.inputs = Array(repeating: "", count: count)
        }
        guard !self.inputs.isEmpty else {
            throw .invalidRequest("`input` must not be empty.", param: "input")
        }
        if let dimensions = wire.dimensions, !(1...Self.maxDimensions).contains(dimensions) {
            throw .invalidRequest(
                "`dimensions` must be between 1 and \(Self.maxDimensions); got \(dimensions).",
                param: "dimensions",
                code: "invalid_value"
            )
        }
        if let format = wire.encoding_format, !["float", "base64"].contains(format) {
            throw .invalidRequest("`encoding_format` must be `float` or `base64`.", param: "encoding_format")
        }
        self.model = model
        self.dimensions = wire.dimensions
        self.encodingFormat = wire.encoding_format ?? "float"
        self.body = body
    }

    /// All input text, for rough token estimates.
    public var characterCount: Int { self.inputs.reduce(0) { $0 + $1.count } }
}

// MARK: - Wire format

extension EmbeddingsRequest {
    // swiftlint:disable identifier_name
    struct Wire: Decodable {
        var model: String?
        var input: Input?
        var dimensions: Int?
        var encoding_format: String?
        var user: String?
    }
    // swiftlint:enable identifier_name

    enum Input: Decodable {
        case one(String)
        case many([String])
        case tokens(Int)

        /// How many inputs this is.
        var count: Int {
            switch self {
            case .one: 1
            case .many(let texts): texts.count
            case .tokens(let count): count
            }
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) {
                self = .one(text)
            } else if let texts = try? container.decode([String].self) {
                self = .many(texts)
            } else if let tokens = try? container.decode([Int].self) {
                self = .tokens(tokens.isEmpty ? 0 : 1)
            } else {
                self = .tokens(try container.decode([[Int]].self).count)
            }
        }
    }
}
