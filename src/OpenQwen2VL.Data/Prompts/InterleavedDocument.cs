using System.Text.Json;

namespace OpenQwen2VL.Data.Prompts;

/// <summary>One item of an interleaved document: a text chunk, or an image (encoded bytes).</summary>
public abstract record InterleavedItem
{
    public sealed record Text(string Value) : InterleavedItem;
    public sealed record Image(byte[] Bytes) : InterleavedItem;
}

/// <summary>
/// An interleaved image-text document (OBELICS / MMC4 JSON) as an ordered list of text chunks and images.
/// Layouts read by <see cref="Parse"/>:
/// - OBELICS: `texts[]` with null at each image slot; the images of `image_info[]` fill the slots in order.
/// - MMC4: `texts[]` all strings and `image_info[].matched_text_index`; an image goes before its matched
///   text chunk (images matched to the same chunk keep their `image_info` order).
/// Images must be embedded (`image_base64`); documents that only link them are skipped by the caller.
/// </summary>
public sealed record InterleavedDocument(IReadOnlyList<InterleavedItem> Items)
{
    public int ImageCount => Items.Count(i => i is InterleavedItem.Image);

    /// <summary>The document, or null with a skip reason.</summary>
    public static InterleavedDocument? Parse(JsonElement doc, out string? reason)
    {
        reason = null;
        if (doc.ValueKind != JsonValueKind.Object || !doc.TryGetProperty("texts", out var textsEl) || textsEl.ValueKind != JsonValueKind.Array)
        {
            reason = "no_texts";
            return null;
        }
        var texts = new List<string?>();
        foreach (var t in textsEl.EnumerateArray())
        {
            if (t.ValueKind is not (JsonValueKind.String or JsonValueKind.Null)) { reason = "bad_text_entry"; return null; }
            texts.Add(t.ValueKind == JsonValueKind.String ? t.GetString() : null);
        }

        var images = new List<(byte[] Bytes, int? MatchedText)>();
        if (doc.TryGetProperty("image_info", out var info) && info.ValueKind == JsonValueKind.Array)
        {
            foreach (var im in info.EnumerateArray())
            {
                if (im.ValueKind != JsonValueKind.Object || !im.TryGetProperty("image_base64", out var b64) || b64.ValueKind != JsonValueKind.String)
                {
                    reason = "image_not_embedded";
                    return null;
                }
                byte[] bytes;
                try { bytes = Convert.FromBase64String(b64.GetString()!); }
                catch (FormatException) { reason = "bad_image_base64"; return null; }
                int? matched = im.TryGetProperty("matched_text_index", out var mi) && mi.ValueKind == JsonValueKind.Number ? mi.GetInt32() : null;
                images.Add((bytes, matched));
            }
        }

        var items = new List<InterleavedItem>();
        bool mmc4 = images.Count > 0 && images.All(i => i.MatchedText is not null);
        if (mmc4)
        {
            if (texts.Any(t => t is null) || images.Any(i => i.MatchedText < 0 || i.MatchedText >= texts.Count))
            {
                reason = "bad_matched_text_index";
                return null;
            }
            for (int k = 0; k < texts.Count; k++)
            {
                foreach (var im in images.Where(i => i.MatchedText == k)) items.Add(new InterleavedItem.Image(im.Bytes));
                items.Add(new InterleavedItem.Text(texts[k]!));
            }
        }
        else
        {
            if (texts.Count(t => t is null) != images.Count) { reason = "image_slot_mismatch"; return null; }
            int next = 0;
            foreach (var t in texts)
                items.Add(t is null ? new InterleavedItem.Image(images[next++].Bytes) : new InterleavedItem.Text(t));
        }
        if (!items.Any(i => i is InterleavedItem.Text)) { reason = "no_text"; return null; }
        return new InterleavedDocument(items);
    }
}
