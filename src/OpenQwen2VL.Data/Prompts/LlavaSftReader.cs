using System.Text.Json;
using OpenQwen2VL.Data.Formats;

namespace OpenQwen2VL.Data.Prompts;

/// <summary>
/// Reads LLaVA-style SFT annotations (a JSON array, or JSONL) — records with `id`, `image` (a path or a list of
/// paths under an image root, or none for text-only) and `conversations` of `{from: human|gpt, value}` — and
/// yields ChatML samples. Streams (a JSON array of millions of records is never loaded whole). Every record is
/// kept or skipped with a reason in <see cref="SampleStats"/>: a record over <see cref="SftReadOptions.MaxRecordBytes"/>
/// is skipped before it is decoded, and image paths go through <see cref="SftImageRoot"/> (confined to the image root,
/// regular files only, size-capped).
/// </summary>
public sealed class LlavaSftReader
{
    private readonly ChatMlPromptBuilder _builder;
    private readonly int? _contextLength;
    private readonly int _visualTokensPerImage;
    private readonly SftReadOptions _options;

    /// <param name="contextLength">cut samples to this estimated length (markers count as the visual tokens); null: no cut</param>
    public LlavaSftReader(ChatMlPromptBuilder builder, string imageRoot, int? contextLength, int visualTokensPerImage, SftReadOptions? options = null)
    {
        if (contextLength is <= 0) throw new ArgumentOutOfRangeException(nameof(contextLength));
        if (visualTokensPerImage <= 0) throw new ArgumentOutOfRangeException(nameof(visualTokensPerImage));
        _builder = builder;
        _contextLength = contextLength;
        _visualTokensPerImage = visualTokensPerImage;
        _options = options ?? new SftReadOptions();
        Images = new SftImageRoot(imageRoot, _options.AllowImagesOutsideRoot, _options.MaxImageBytes);
    }

    /// <summary>Where the samples' images are read from (and how: <see cref="SftImageRoot.TryRead"/>).</summary>
    public SftImageRoot Images { get; }

    public IEnumerable<SftSample> Read(string annotationPath, SampleStats stats)
    {
        int index = 0;
        foreach (var (record, parseError) in Records(annotationPath, _options.MaxRecordBytes))
        {
            if (parseError is not null) { stats.Skip(parseError); index++; continue; }
            var sample = Convert(record, index++, out string? reason);
            if (sample is null) stats.Skip(reason!);
            else
            {
                stats.Keep(sample.Truncated);
                yield return sample;
            }
        }
    }

    private static IEnumerable<(JsonElement Record, string? Error)> Records(string path, int maxRecordBytes)
    {
        // A FIFO or a device is refused before it is opened, so it cannot block.
        using var stream = RegularFile.OpenRead(path, "an SFT annotation file (LLaVA JSON or JSONL)", bufferSize: 1);
        foreach (var raw in JsonRecordSplitter.Split(stream, maxRecordBytes))
        {
            if (raw.Error is not null) { yield return (default, raw.Error); continue; }
            // Invalid UTF-8 passes the parser and throws only when a string is read (UntrustedJson says why): a counted skip.
            if (!System.Text.Unicode.Utf8.IsValid(raw.Bytes)) { yield return (default, JsonRecordSplitter.InvalidUtf8); continue; }
            JsonElement record;
            try { record = JsonSerializer.Deserialize<JsonElement>(raw.Bytes!); }
            catch (JsonException) { record = default; }
            yield return record.ValueKind == JsonValueKind.Object ? (record, null) : (default, JsonRecordSplitter.MalformedJson);
        }
    }

    private SftSample? Convert(JsonElement record, int index, out string? reason)
    {
        reason = null;
        if (record.ValueKind != JsonValueKind.Object) { reason = "malformed_json"; return null; }
        string id = record.TryGetProperty("id", out var idEl) && idEl.ValueKind is JsonValueKind.String or JsonValueKind.Number
            ? idEl.ToString() : $"#{index}";

        var images = new List<string>();
        if (record.TryGetProperty("image", out var img) && img.ValueKind != JsonValueKind.Null)
        {
            if (img.ValueKind == JsonValueKind.String) images.Add(img.GetString()!);
            else if (img.ValueKind == JsonValueKind.Array && img.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String))
                images.AddRange(img.EnumerateArray().Select(e => e.GetString()!));
            else { reason = "bad_image_field"; return null; }
        }

        var turns = ParseTurns(record, out reason);
        if (turns is null) return null;

        var fullPaths = new List<string>(images.Count);
        foreach (var p in images)
        {
            if (!Images.TryResolve(p, out var full, out reason)) return null;
            fullPaths.Add(full);
        }

        int placeholders = turns.Where(t => t.Role == ChatRole.User).Sum(t => CountPlaceholders(t.Text));
        if (placeholders == 0 && images.Count > 0)
        {
            // No placeholder: the images go first in the first user turn, as LLaVA data assumes.
            int firstUser = turns.FindIndex(t => t.Role == ChatRole.User);
            string prefix = string.Concat(Enumerable.Repeat(MultimodalTokens.ImagePlaceholder + "\n", images.Count));
            turns[firstUser] = turns[firstUser] with { Text = prefix + turns[firstUser].Text };
        }
        else if (placeholders != images.Count) { reason = "image_count_mismatch"; return null; }

        var tokens = _builder.Build(turns);
        bool truncated = false;
        if (_contextLength is int ctx && tokens.EstimatedLength(_visualTokensPerImage) > ctx)
        {
            tokens = tokens.TruncateTo(ctx, _visualTokensPerImage);
            truncated = true;
            if (!tokens.Labels.Any(l => l != MultimodalTokens.IgnoreLabel)) { reason = "no_trained_tokens_within_context"; return null; }
            fullPaths = fullPaths[..tokens.ImageCount];
        }
        return new SftSample(id, tokens, fullPaths, truncated);
    }

    /// <summary>Turns in order: an optional system turn, then user/assistant alternating from user, with at least one reply.</summary>
    private static List<ChatTurn>? ParseTurns(JsonElement record, out string? reason)
    {
        reason = null;
        if (!record.TryGetProperty("conversations", out var conv) || conv.ValueKind != JsonValueKind.Array || conv.GetArrayLength() == 0)
        {
            reason = "no_conversations";
            return null;
        }
        var turns = new List<ChatTurn>();
        foreach (var t in conv.EnumerateArray())
        {
            if (t.ValueKind != JsonValueKind.Object || !t.TryGetProperty("from", out var from) || !t.TryGetProperty("value", out var value)
                || from.ValueKind != JsonValueKind.String || value.ValueKind != JsonValueKind.String)
            {
                reason = "bad_turn";
                return null;
            }
            ChatRole? role = from.GetString()!.ToLowerInvariant() switch
            {
                "human" or "user" => ChatRole.User,
                "gpt" or "assistant" => ChatRole.Assistant,
                "system" => ChatRole.System,
                _ => null,
            };
            if (role is null) { reason = "unknown_role"; return null; }
            turns.Add(new ChatTurn(role.Value, value.GetString()!));
        }
        int k = turns[0].Role == ChatRole.System ? 1 : 0;
        for (int i = k; i < turns.Count; i++)
            if (turns[i].Role != ((i - k) % 2 == 0 ? ChatRole.User : ChatRole.Assistant)) { reason = "bad_turn_order"; return null; }
        if (!turns.Any(t => t.Role == ChatRole.Assistant)) { reason = "no_assistant_reply"; return null; }
        return turns;
    }

    private static int CountPlaceholders(string text)
    {
        int n = 0;
        for (int at = text.IndexOf(MultimodalTokens.ImagePlaceholder, StringComparison.Ordinal); at >= 0;
             at = text.IndexOf(MultimodalTokens.ImagePlaceholder, at + MultimodalTokens.ImagePlaceholder.Length, StringComparison.Ordinal))
            n++;
        return n;
    }
}
