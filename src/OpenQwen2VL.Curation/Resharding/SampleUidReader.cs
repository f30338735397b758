using System.Text.Json;
using OpenQwen2VL.Data.Formats;
using OpenQwen2VL.Data.Shards;

namespace OpenQwen2VL.Curation.Resharding;

/// <summary>The uid of an img2dataset sample: the <c>uid</c> of its <c>KEY.json</c> (text, or a number read as its text).</summary>
public static class SampleUidReader
{
    public const string MissingUid = "missing_uid";
    public const string UnreadableMetadata = "unreadable_metadata";

    /// <summary>The uid, or false with a skip reason: no json member or no uid in it, or json that is not UTF-8 JSON.</summary>
    public static bool TryRead(WebDatasetSample sample, out string uid, out string? skipReason)
    {
        uid = "";
        skipReason = MissingUid;
        if (sample.Get("json") is not { } json) return false;
        try
        {
            using var doc = UntrustedJson.Parse(json, sample.ShardPath, $"{sample.Key}.json");
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("uid", out var value)) return false;
            string? text = value.ValueKind switch
            {
                JsonValueKind.String => value.GetString(),
                JsonValueKind.Number => value.GetRawText(),
                _ => null,
            };
            if (string.IsNullOrWhiteSpace(text)) return false;
            uid = text.Trim();
            skipReason = null;
            return true;
        }
        catch (Exception e) when (e is InvalidDataException or InvalidOperationException)
        {
            skipReason = UnreadableMetadata;
            return false;
        }
    }
}
