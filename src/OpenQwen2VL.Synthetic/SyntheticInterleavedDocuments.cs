using System.Text;
using System.Text.Json.Nodes;
using OpenQwen2VL.Data.Shards;

namespace OpenQwen2VL.Synthetic;

/// <summary>
/// Deterministic OBELICS/MMC4-style interleaved documents of rendered shape scenes, for tests and smoke runs: each
/// document is a short article whose images are each followed by a paragraph that describes them (so a model can learn
/// the text from the image), written as JSONL (images inline, base64) or as WebDataset shards (the document as
/// <c>KEY.json</c>, its images as members <c>KEY.0.jpg</c>, ... named in <c>image_info[].image_name</c>).
/// </summary>
public static class SyntheticInterleavedDocuments
{
    /// <summary>Settings of the documents.</summary>
    /// <param name="MaxImages">images per document are drawn from 1 to this</param>
    /// <param name="ImageSide">side of the rendered scenes in pixels</param>
    /// <param name="Mmc4">MMC4 layout (all texts strings, images placed by matched_text_index) instead of OBELICS's null slots</param>
    public sealed record Options(int MaxImages = 3, int ImageSide = 32, bool Mmc4 = false, int Seed = 0);

    /// <summary>Document <paramref name="id"/>: its JSON (images not filled in) and its JPEG images in document order.</summary>
    public static (JsonObject Json, IReadOnlyList<byte[]> Images) Document(int id, Options options)
    {
        var rng = new Random(SeedMixer.Mix(id, options.Seed));
        int n = rng.Next(1, options.MaxImages + 1);
        var texts = new JsonArray();
        var info = new JsonArray();
        var images = new List<byte[]>();
        if (!options.Mmc4) texts.Add($"Article {id}: a few pictures.");
        for (int k = 0; k < n; k++)
        {
            var scene = SceneSampler.Sample(rng);
            images.Add(SceneRenderer.RenderJpeg(scene, options.ImageSide));
            var entry = new JsonObject();
            if (options.Mmc4) entry["matched_text_index"] = texts.Count;
            else texts.Add(null);
            info.Add(entry);
            texts.Add(CaptionTemplates.Caption(scene, rng));
        }
        return (new JsonObject { ["texts"] = texts, ["image_info"] = info }, images);
    }

    /// <summary>Writes <paramref name="count"/> documents to a JSONL file, images inline as <c>image_base64</c>.</summary>
    public static void WriteJsonl(string path, int count, Options options)
    {
        using var w = new StreamWriter(path, false, new UTF8Encoding(false));
        for (int i = 0; i < count; i++)
        {
            var (json, images) = Document(i, options);
            var info = json["image_info"]!.AsArray();
            for (int k = 0; k < images.Count; k++) info[k]!["image_base64"] = Convert.ToBase64String(images[k]);
            w.Write(json.ToJsonString());
            w.Write('\n');
        }
    }

    /// <summary>Writes <paramref name="count"/> documents to one WebDataset shard: <c>KEY.json</c> and <c>KEY.{k}.jpg</c>.</summary>
    public static void WriteShard(string path, int count, Options options)
    {
        using var w = new WebDatasetWriter(path);
        for (int i = 0; i < count; i++)
        {
            var (json, images) = Document(i, options);
            var info = json["image_info"]!.AsArray();
            var members = new Dictionary<string, ReadOnlyMemory<byte>>();
            for (int k = 0; k < images.Count; k++)
            {
                info[k]!["image_name"] = $"{k}.jpg";
                members[$"{k}.jpg"] = images[k];
            }
            members["json"] = Encoding.UTF8.GetBytes(json.ToJsonString());
            w.Write($"doc{i:D6}", members);
        }
    }
}
