// SPDX-License-Identifier: Apache-2.0

// `JSONValue` is internal; scripts/fuzz builds with `-enable-testing` so this target can reach it.
@testable import SwitchyardCore

/// Exercises the hand-written JSON code on arbitrary bytes: the strict parser, the member scanner,
/// the in-place editor and the literal helpers.
///
/// Thrown errors and `nil` are the expected answers to bad input. Besides traps and sanitizer reports,
/// two properties the proxy relies on are checked: an edited object scans back to the edit, and a
/// string survives `JSONText.string` then `JSONText.decodeString`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    _ = JSONValue.parse(bytes)
    _ = JSONText.decodeString(bytes[...])
    _ = JSONText.decodeInt(bytes[...])

    if let (members, _) = try? JSONObjectScanner.members(of: bytes) {
        for member in members.values {
            _ = JSONText.decodeString(bytes[member.value])
            _ = JSONText.decodeInt(bytes[member.value])
        }
    }

    if var editor = try? JSONObjectEditor(bytes) {
        let model = JSONText.string("x")
        do {
            try editor.set("model", json: model)
        } catch {
            return 0
        }
        // The gateway rewrites `model` this way on every forwarded body; a scan of the result must agree.
        let rescanned = try? JSONObjectEditor(editor.bytes)
        precondition(rescanned?.value("model").map(Array.init) == model, "edited object does not scan back")
    }

    let text = String(decoding: bytes, as: UTF8.self)
    precondition(JSONText.decodeString(JSONText.string(text)[...]) == text, "string literal does not round-trip")
    return 0
}
