using System.Text.Json;

namespace OpenQwen2VL.Data.Prompts;

/// <summary>One item of an interleaved document: a text chunk, an image (encoded bytes), or an image that could not be had.</summary>
public abstract record InterleavedItem
{
    public sealed record Text(string Value) : InterleavedItem;
    public sealed record Image(byte[] Bytes) : InterleavedItem;
    /// <summary>An image slot whose image is missing or unreadable (<see cref="Reason"/>): dropped, and counted, by the caller.</summary>
    public sealed record MissingImage(string Reason) : InterleavedItem;
}

/// <summary>
/// An interleaved image-text document (OBELICS / MMC4 JSON) as an ordered list of text chunks and images.
/// Layouts read by <see cref="Parse(JsonElement, Func{string, byte[]?}?, out string?)"/>:
/// - OBELICS: `texts[]` with null at each image slot; the images of `image_info[]` fill the slots in order.
/// - MMC4: `texts[]` (or MMC4's own `text_list[]`) all strings and `image_info[].matched_text_index`; an image goes
///   before its matched text chunk (images matched to the same chunk keep their `image_info` order).
/// An image is embedded as `image_info[].image_base64`, or named by `image_info[].image_name` as another member of the
/// same WebDataset sample (the caller's resolver). An image that cannot be had stays as a
/// <see cref="InterleavedItem.MissingImage"/> with its reason, so one bad image costs that image, not the document.
/// Empty and whitespace-only text chunks are left out (they would train on nothing but the end-of-chunk token).
/// </summary>
public sealed record InterleavedDocument(IReadOnlyList<InterleavedItem> Items)
{
    /// <summary>Document-level skip reasons (the document's structure is broken, so no image can be placed).</summary>
    public const string NoTexts = "no_texts", BadTextEntry = "bad_text_entry", ImageSlotMismatch = "image_slot_mismatch",
        BadMatchedTextIndex = "bad_matched_text_index", NoText = "no_text", NotAnObject = "not_an_object";

    /// <summary>Per-image drop reasons.</summary>
    public const string ImageNotEmbedded = "image_not_embedded", BadImageBase64 = "bad_image_base64", MissingImageMember = "missing_image_member";

    public int ImageCount => Items.Count(i => i is InterleavedItem.Image);

    /// <summary>The document with only its usable images (<see cref="InterleavedItem.MissingImage"/> items removed).</summary>
    public InterleavedDocument WithoutMissingImages() => new([.. Items.Where(i => i is not InterleavedItem.MissingImage)]);

    /// <summary>The document, or null with a skip reason (images embedded as base64 only).</summary>
    public static InterleavedDocument? Parse(JsonElement doc, out string? reason) => Parse(doc, null, out reason);

    /// <param name="member">resolves an `image_name` to the bytes of a member of the same WebDataset sample (null: not found)</param>
    public static InterleavedDocument? Parse(JsonElement doc, Func<string, byte[]?>? member, out string? reason)
    {
        reason = null;
        if (doc.ValueKind != JsonValueKind.Object) { reason = NotAnObject; return null; }
        if (!(doc.TryGetProperty("texts", out var textsEl) || doc.TryGetProperty("text_list", out textsEl)) || textsEl.ValueKind != JsonValueKind.Array)
        {
            reason = NoTexts;
            return null;
        }
        var texts = new List<string?>();
        foreach (var t in textsEl.EnumerateArray())
        {
            if (t.ValueKind is not (JsonValueKind.String or JsonValueKind.Null)) { reason = BadTextEntry; return null; }
            texts.Add(t.ValueKind == JsonValueKind.String ? t.GetString() : null);
        }

        var images = new List<(InterleavedItem Image, int? MatchedText)>();
        if (doc.TryGetProperty("image_info", out var info) && info.ValueKind == JsonValueKind.Array)
        {
            foreach (var im in info.EnumerateArray())
            {
                int? matched = im.ValueKind == JsonValueKind.Object && im.TryGetProperty("matched_text_index", out var mi)
                    && mi.ValueKind == JsonValueKind.Number ? (mi.TryGetInt32(out int m) ? m : -1) : null;
                images.Add((ResolveImage(im, member), matched));
            }
        }

        var items = new List<InterleavedItem>();
        bool mmc4 = images.Count > 0 && images.All(i => i.MatchedText is not null);
        if (mmc4)
        {
            if (texts.Any(t => t is null) || images.Any(i => i.MatchedText < 0 || i.MatchedText >= texts.Count))
            {
                reason = BadMatchedTextIndex;
                return null;
            }
            for (int k = 0; k < texts.Count; k++)
            {
                foreach (var im in images.Where(i => i.MatchedText == k)) items.Add(im.Image);
                AddText(items, texts[k]!);
            }
        }
        else
        {
            if (texts.Count(t => t is null) != images.Count) { reason = ImageSlotMismatch; return null; }
            int next = 0;
            foreach (var t in texts)
            {
                if (t is null) items.Add(images[next++].Image);
                else AddText(items, t);
            }
        }
        if (!items.Any(i => i is InterleavedItem.Text)) { reason = NoText; return null; }
        return new InterleavedDocument(items);
    }

    private static void AddText(List<InterleavedItem> items, string text)
    {
        if (!string.IsNullOrWhiteSpace(text)) items.Add(new InterleavedItem.Text(text));
    }

    private static InterleavedItem ResolveImage(JsonElement im, Func<string, byte[]?>? member)
    {
        if (im.ValueKind != JsonValueKind.Object) return new InterleavedItem.MissingImage(ImageNotEmbedded);
        if (im.TryGetProperty("image_base64", out var b64) && b64.ValueKind == JsonValueKind.String)
        {
            try { return new InterleavedItem.Image(Convert.FromBase64String(b64.GetString()!)); }
            catch (FormatException) { return new InterleavedItem.MissingImage(BadImageBase64); }
        }
        if (member is not null && im.TryGetProperty("image_name", out var name) && name.ValueKind == JsonValueKind.String)
            return member(name.GetString()!) is { } bytes ? new InterleavedItem.Image(bytes) : new InterleavedItem.MissingImage(MissingImageMember);
        return new InterleavedItem.MissingImage(ImageNotEmbedded);
    }
}
