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

    /// Validates `body`, throwing a 400 ``GatewayError`` that names the faulty field.
    public init(body: [UInt8]) throws(GatewayError) {
        let wire: Wire = try decodeRequestBody(Wire.self, from: body)
        guard let model = wire.model, !model.isEmpty else {
            throw .invalidRequest(
                "`model` is required: name an embedding model such as `text-embedding-3-small`.",
                param: "model"
            )
        }
        guard let input = wire.input else {
            throw .invalidRequest("`input` is required: a string or an array of strings.", param: "input")
        }
        switch input {
        case .one(let text): self.inputs = [text]
        case .many(let texts): self.inputs = texts
        case .tokens(let count): self.inputs = Array(repeating: "", count: count)
        }
        guard !self.inputs.isEmpty else {
            throw .invalidRequest("`input` must not be empty.", param: "input")
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
