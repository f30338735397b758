using System.Text;
using System.Text.Json;

namespace OpenQwen2VL.Data.Shards;

/// <summary>
/// Turns a WebDataset sample into an <see cref="Img2DatasetSample"/>, or a skip reason. Only the sample's
/// structure and text are checked here; image bytes are validated by the image decoder.
/// </summary>
public static class Img2DatasetParser
{
    public const string MissingImage = "missing_image";
    public const string MissingCaption = "missing_caption";
    public const string EmptyCaption = "empty_caption";
    public const string InvalidUtf8Caption = "invalid_utf8_caption";
    public const string CaptionTooLong = "caption_too_long";

    /// <summary>
    /// Captions longer than this (in UTF-8 bytes) are skipped before they are decoded or tokenised: 1 MiB, some
    /// thousand times a real alt-text or re-caption; a 250 MB "caption" would otherwise cost gigabytes as UTF-16
    /// text and token ids.
    /// </summary>
    public const int DefaultMaxCaptionBytes = 1 << 20;

    /// <summary>Image extensions in order of preference when a sample has several.</summary>
    public static readonly string[] ImageExtensions = ["jpg", "jpeg", "png", "webp"];

    // Strict: invalid bytes throw instead of becoming U+FFFD, so bad text is counted, not silently mangled.
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static bool TryParse(WebDatasetSample sample, out Img2DatasetSample? parsed, out string? skipReason) =>
        TryParse(sample, DefaultMaxCaptionBytes, out parsed, out skipReason);

    public static bool TryParse(WebDatasetSample sample, int maxCaptionBytes, out Img2DatasetSample? parsed, out string? skipReason)
    {
        parsed = null;
        string? ext = null;
        foreach (var e in ImageExtensions)
            if (sample.Members.ContainsKey(e)) { ext = e; break; }
        if (ext is null) { skipReason = MissingImage; return false; }
        if (!sample.Members.TryGetValue("txt", out var textBytes)) { skipReason = MissingCaption; return false; }
        if (textBytes.Length > maxCaptionBytes) { skipReason = CaptionTooLong; return false; }
        if (!TryDecodeUtf8(textBytes, out var caption)) { skipReason = InvalidUtf8Caption; return false; }
        caption = caption.Trim();
        if (caption.Length == 0) { skipReason = EmptyCaption; return false; }
        long offset = sample.MemberOffsets is { } offsets && offsets.TryGetValue(ext, out var o) ? o : -1;
        parsed = new Img2DatasetSample
        {
            Key = sample.Key,
            Uid = UidOf(sample) ?? sample.Key,
            Caption = caption,
            ImageExtension = ext,
            Image = sample.Members[ext],
            ImageOffset = offset,
        };
        skipReason = null;
        return true;
    }

    public static bool TryDecodeUtf8(byte[] bytes, out string text)
    {
        try
        {
            var span = bytes.AsSpan();
            if (span.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) span = span[3..]; // a BOM is not part of the caption
            text = StrictUtf8.GetString(span);
            return true;
        }
        catch (DecoderFallbackException)
        {
            text = "";
            return false;
        }
    }

    /// <summary>img2dataset writes <c>{"uid": ...}</c>; metadata that is absent or unreadable falls back to the key.</summary>
    private static string? UidOf(WebDatasetSample sample)
    {
        if (!sample.Members.TryGetValue("json", out var json)) return null;
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("uid", out var uid))
                return uid.ValueKind == JsonValueKind.String ? uid.GetString() : uid.GetRawText();
        }
        catch (JsonException) { }
        return null;
    }
}
