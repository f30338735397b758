using System.Text.Json;
using System.Text.Unicode;
using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Data.Images;
using OpenQwen2VL.Data.Prompts;
using OpenQwen2VL.Data.Tokenization;

namespace OpenQwen2VL.Data.Packing;

/// <summary>An image of a scanned document: its bytes, the tar extension for them, and whether re-encoding may shrink it.</summary>
public sealed record ScannedImage(byte[] Bytes, string Extension, bool ReencodeCandidate);

/// <summary>One sample of a scanned document, ready to pack.</summary>
public sealed record ScannedSample(string Uid, int[] Ids, int Length, IReadOnlyList<ScannedImage> Images);

/// <summary>What scanning one document gave: its samples, or the reason it was skipped; the images dropped from it by reason.</summary>
public sealed record ScannedDocument(IReadOnlyList<ScannedSample>? Samples, string? SkipReason, bool Truncated, IReadOnlyList<string> DroppedImages);

/// <summary>
/// The interleaved half of <c>oqvl pack</c>'s scan: one raw document → validated, tokenised samples. The rules (each a
/// counted reason, so input = kept + skipped holds per document):
/// <list type="bullet">
/// <item>The document is skipped when its bytes are not UTF-8 ("invalid_utf8"), not JSON ("malformed_json"), over the
/// size cap ("record_too_long", "member_too_large"), or its structure cannot place images
/// (<see cref="InterleavedDocument"/>'s reasons: "no_texts", "image_slot_mismatch", "bad_matched_text_index", ...).</item>
/// <item>An image that is not embedded, not valid base64, a missing shard member, or does not decode within the image
/// limits is dropped from its document and counted in "dropped_images" by reason; the rest of the document stays.</item>
/// <item>A document is kept only if it still has text ("no_text" otherwise) and at least one image: one left with none
/// ("no_images_left", or "no_images" when it never had any) is text-only data, which this image-text stage does not
/// train on.</item>
/// <item>A document longer than the capacity is cut into several samples at chunk boundaries
/// (<see cref="InterleavedSampleSplitter"/>); one whose single chunk cannot fit is "over_capacity".</item>
/// </list>
/// </summary>
public sealed class InterleavedDocumentScanner(ITextTokenizer tokenizer, PackOptions options)
{
    public const string InvalidUtf8 = "invalid_utf8", MalformedJson = "malformed_json", NoImages = "no_images", NoImagesLeft = "no_images_left";

    private readonly InterleavedPromptBuilder _prompt = new(tokenizer);

    /// <exception cref="PreTokenizerTimeoutException">the tokenizer timed out on a text chunk (the caller counts these)</exception>
    public ScannedDocument Scan(RawInterleavedDocument raw)
    {
        if (raw.Error is { } error) return Skip(error);
        if (!Utf8.IsValid(raw.Json)) return Skip(InvalidUtf8);
        InterleavedDocument? doc;
        string? reason;
        try
        {
            using var json = UntrustedJson.Parse(raw.Json, raw.Uid, "an interleaved document");
            doc = InterleavedDocument.Parse(json.RootElement, raw.Member, out reason);
        }
        catch (InvalidDataException) { return Skip(MalformedJson); }
        if (doc is null) return Skip(reason!);

        var dropped = new List<string>();
        var items = new List<InterleavedItem>(doc.Items.Count);
        var facts = new Dictionary<byte[], ScannedImage>(ReferenceEqualityComparer.Instance);
        int hadImages = 0;
        foreach (var item in doc.Items)
        {
            if (item is InterleavedItem.MissingImage missing) { hadImages++; dropped.Add(missing.Reason); continue; }
            if (item is InterleavedItem.Image image)
            {
                hadImages++;
                if (Validate(image.Bytes, out var scanned, out string? why)) { facts[image.Bytes] = scanned!; items.Add(item); }
                else dropped.Add(why!);
                continue;
            }
            items.Add(item);
        }
        doc = new InterleavedDocument(items);
        if (doc.ImageCount == 0) return new ScannedDocument(null, hadImages == 0 ? NoImages : NoImagesLeft, false, dropped);

        var chunks = _prompt.Chunks(doc);
        var samples = InterleavedSampleSplitter.Split(chunks, _prompt.BosId, options.Capacity, options.VisualTokens, options.OverCapacity, out int truncated);
        if (samples is null) return new ScannedDocument(null, PackPipeline.OverCapacity, false, dropped);
        var result = new ScannedSample[samples.Count];
        for (int k = 0; k < samples.Count; k++)
            result[k] = new ScannedSample(samples.Count == 1 ? raw.Uid : $"{raw.Uid}#{k}", samples[k].Ids, samples[k].Length,
                [.. samples[k].Images.Select(b => facts[b])]);
        return new ScannedDocument(result, null, truncated > 0, dropped);
    }

    private static ScannedDocument Skip(string reason) => new(null, reason, false, []);

    /// <summary>Decodes the image within the limits (freeing its pixels at once) to learn that it is usable, its format and size.</summary>
    private bool Validate(byte[] bytes, out ScannedImage? scanned, out string? reason)
    {
        scanned = null;
        int width, height;
        if (!ImageDecoder.TryDecodeRgbx(bytes, options.ImageLimits, out DecodedImage? image, out reason)) return false;
        using (image) (width, height) = (image.Width, image.Height);
        ImageDecoder.TryReadSize(bytes, out _, out _, out string? format);
        string ext = format switch { "jpeg" => "jpg", null => "bin", _ => format };
        scanned = new ScannedImage(bytes, ext, options.Reencode && Math.Min(width, height) > options.ImageSize);
        return true;
    }
}
