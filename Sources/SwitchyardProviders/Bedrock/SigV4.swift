// SPDX-License-Identifier: Apache-2.0

import Crypto
import Foundation
import SwitchyardCore

/// AWS credentials: an access key pair and, for temporary credentials, a session token.
public struct AWSCredentials: Sendable, Equatable {
    /// `AWS_ACCESS_KEY_ID`.
    public var accessKeyID: String
    /// `AWS_SECRET_ACCESS_KEY` (never logged).
    public var secretAccessKey: String
    /// `AWS_SESSION_TOKEN`, for temporary credentials.
    public var sessionToken: String?

    /// Creates credentials.
    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken.flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// Signs requests with AWS Signature Version 4 (HMAC-SHA256 from swift-crypto), as the AWS
/// general reference specifies and its published test suite checks.
public struct SigV4Signer: Sendable {
    /// Who signs.
    public var credentials: AWSCredentials
    /// The region (`us-east-1`).
    public var region: String
    /// The signing name of the service (`bedrock` for the Bedrock runtime).
    public var service: String

    /// Creates a signer.
    public init(credentials: AWSCredentials, region: String, service: String) {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// The headers to add to a request: `x-amz-date`, `x-amz-security-token` (with a session token)
    /// and `authorization`.
    ///
    /// - Parameters:
    ///   - target: the path and query as sent (the path percent-encoded once).
    ///   - headers: the headers to sign besides `host`, `x-amz-date` and the token, such as `content-type`.
    public func sign(
        method: String,
        host: String,
        target: String,
        headers: [(String, String)],
        body: [UInt8],
        date: Date
    ) -> [(String, String)] {
        let stamp = Self.timestamp(date)
        let day = String(stamp.prefix(8))
        var signed = headers.map { ($0.0.lowercased(), Self.trimmed($0.1)) }
        signed.append(("host", host))
        signed.append(("x-amz-date", stamp))
        if let token = self.credentials.sessionToken { signed.append(("x-amz-security-token", token)) }
        signed.sort { $0.0 < $1.0 }
        let signedNames = signed.map(\.0).joined(separator: ";")

        let (path, query) = Self.split(target)
        let canonical = [
            method,
            Self.canonicalPath(path),
            Self.canonicalQuery(query),
            signed.map { "\($0.0):\($0.1)\n" }.joined(),
            signedNames,
            Hex.lowercase(SHA256.hash(data: body)),
        ].joined(separator: "\n")
        let scope = "\(day)/\(self.region)/\(self.service)/aws4_request"
        let toSign = ["AWS4-HMAC-SHA256", stamp, scope, Hex.lowercase(SHA256.hash(data: Array(canonical.utf8)))]
            .joined(separator: "\n")

        var key = SymmetricKey(data: Array("AWS4\(self.credentials.secretAccessKey)".utf8))
        for part in [day, self.region, self.service, "aws4_request"] {
            key = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        let signature = Hex.lowercase(HMAC<SHA256>.authenticationCode(for: Array(toSign.utf8), using: key))

        var added = [("x-amz-date", stamp)]
        if let token = self.credentials.sessionToken { added.append(("x-amz-security-token", token)) }
        added.append(
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=\(self.credentials.accessKeyID)/\(scope), "
                    + "SignedHeaders=\(signedNames), Signature=\(signature)"
            )
        )
        return added
    }

    /// `20150830T123600Z`.
    static func timestamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? .current
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ value: Int?) -> String { value.map { $0 < 10 ? "0\($0)" : "\($0)" } ?? "00" }
        return "\(parts.year ?? 1970)\(two(parts.month))\(two(parts.day))T\(two(parts.hour))\(two(parts.minute))"
            + "\(two(parts.second))Z"
    }

    /// Leading and trailing spaces removed, inner runs of spaces made one, as the canonical form wants.
    static func trimmed(_ value: String) -> String {
        value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }

    static func split(_ target: String) -> (path: Substring, query: Substring) {
        guard let mark = target.firstIndex(of: "?") else { return (Substring(target), "") }
        return (target[..<mark], target[target.index(after: mark)...])
    }

    /// Each segment of the path as sent, percent-encoded again (every service but S3 wants this).
    static func canonicalPath(_ path: Substring) -> String {
        guard !path.isEmpty else { return "/" }
        return path.split(separator: "/", omittingEmptySubsequences: false).map { Self.encode($0) }
            .joined(separator: "/")
    }

    /// Parameters sorted by name, then value.
    static func canonicalQuery(_ query: Substring) -> String {
        guard !query.isEmpty else { return "" }
        let pairs = query.split(separator: "&").map { item -> (String, String) in
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
        }
        return pairs.sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// RFC 3986 encoding: everything but unreserved characters as `%XX`.
    static func encode(_ text: some StringProtocol) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + Hex.lowercase([byte]).uppercased()
            }
        }
        return out
    }
}
