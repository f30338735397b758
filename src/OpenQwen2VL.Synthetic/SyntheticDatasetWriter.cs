using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenQwen2VL.Data.Manifests;
using OpenQwen2VL.Data.Shards;

namespace OpenQwen2VL.Synthetic;

/// <summary>Where <see cref="SyntheticDatasetWriter"/> put each split.</summary>
public sealed record SyntheticDatasetLayout(string Root)
{
    public string PretrainDir => Path.Combine(Root, "pretrain");
    /// <summary>Brace spec of the pre-training shards, for <see cref="ShardSpec.Expand"/>.</summary>
    public string PretrainShardSpec(int shardCount) =>
        Path.Combine(PretrainDir, shardCount == 1 ? "00000.tar" : $"{{00000..{shardCount - 1:D5}}}.tar");
    public string SftJson => Path.Combine(Root, "sft", "llava_sft.json");
    public string SftImageRoot => Path.Combine(Root, "sft", "images");
    public string EvalQuestions => Path.Combine(Root, "eval", "questions.json");
    public string EvalAnnotations => Path.Combine(Root, "eval", "annotations.json");
    public string EvalImageRoot => Path.Combine(Root, "eval", "images");
    public string Manifest => Path.Combine(Root, StageManifest.FileName);
    public string InterleavedJsonl => Path.Combine(Root, "interleaved", "docs.jsonl");
}

/// <summary>
/// Writes a <see cref="SyntheticDataset"/> in the real formats: img2dataset-style WebDataset shards
/// (<c>KEY.jpg</c>, <c>KEY.txt</c>, <c>KEY.json</c> with <c>uid</c> and <c>synthetic_noise</c>), LLaVA-style
/// SFT JSON with its images on disk, and a VQAv2-style questions/annotations pair. Every file is written
/// atomically and its bytes depend only on the dataset (no timestamps, fixed JSON layout).
/// </summary>
public static class SyntheticDatasetWriter
{
    // Relaxed escaping keeps "<image>" readable in the JSON files (still valid JSON).
    private static readonly JsonWriterOptions Indented = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly JsonWriterOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static SyntheticDatasetLayout Write(SyntheticDataset data, string root)
    {
        var layout = new SyntheticDatasetLayout(root);
        var shards = WritePretrain(data, layout);
        WriteSft(data, layout);
        WriteEval(data, layout);
        if (data.Options.InterleavedDocuments > 0)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(layout.InterleavedJsonl)!);
            SyntheticInterleavedDocuments.WriteJsonl(layout.InterleavedJsonl, data.Options.InterleavedDocuments,
                new SyntheticInterleavedDocuments.Options(ImageSide: data.Options.ImageSize, Seed: data.Options.Seed));
        }
        WriteManifest(data, layout, shards);
        return layout;
    }

    private static IReadOnlyList<string> WritePretrain(SyntheticDataset data, SyntheticDatasetLayout layout)
    {
        using var writer = new ShardedWebDatasetWriter(layout.PretrainDir, "{0:D5}.tar", data.Options.SamplesPerShard);
        foreach (var p in data.Pretrain)
        {
            var meta = Json(w =>
            {
                w.WriteStartObject();
                w.WriteString("uid", p.Uid);
                w.WriteString("key", p.Key);
                w.WriteString("caption", p.Caption);
                w.WriteString("status", "success");
                w.WriteNumber("width", data.Options.ImageSize);
                w.WriteNumber("height", data.Options.ImageSize);
                w.WriteBoolean("synthetic_noise", p.IsNoise);
                w.WriteEndObject();
            }, indented: false);
            writer.Write(p.Key, new Dictionary<string, ReadOnlyMemory<byte>>
            {
                ["jpg"] = p.Jpeg,
                ["txt"] = Encoding.UTF8.GetBytes(p.Caption),
                ["json"] = meta,
            });
        }
        writer.Complete();
        return writer.CompletedShards;
    }

    private static void WriteSft(SyntheticDataset data, SyntheticDatasetLayout layout)
    {
        foreach (var img in data.Sft.SelectMany(r => r.Images)) AtomicFile.WriteAllBytes(Path.Combine(layout.SftImageRoot, img.File), img.Jpeg);
        WriteJsonFile(layout.SftJson, w =>
        {
            w.WriteStartArray();
            foreach (var r in data.Sft)
            {
                w.WriteStartObject();
                w.WriteString("id", r.Id);
                // LLaVA's layout: one image as a string, several as a list.
                if (r.Images.Count == 1) w.WriteString("image", r.Images[0].File);
                else
                {
                    w.WriteStartArray("image");
                    foreach (var img in r.Images) w.WriteStringValue(img.File);
                    w.WriteEndArray();
                }
                w.WriteStartArray("conversations");
                foreach (var t in r.Conversations)
                {
                    w.WriteStartObject();
                    w.WriteString("from", t.From);
                    w.WriteString("value", t.Value);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
        });
    }

    private static void WriteEval(SyntheticDataset data, SyntheticDatasetLayout layout)
    {
        foreach (var img in data.EvalImages) AtomicFile.WriteAllBytes(Path.Combine(layout.EvalImageRoot, img.FileName), img.Jpeg);
        WriteJsonFile(layout.EvalQuestions, w =>
        {
            w.WriteStartObject();
            WriteHeader(w, data);
            w.WriteString("task_type", "Open-Ended");
            w.WriteStartArray("questions");
            foreach (var q in data.EvalQuestions)
            {
                w.WriteStartObject();
                w.WriteNumber("image_id", q.ImageId);
                w.WriteString("question", q.Question.Question);
                w.WriteNumber("question_id", q.QuestionId);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
        WriteJsonFile(layout.EvalAnnotations, w =>
        {
            w.WriteStartObject();
            WriteHeader(w, data);
            w.WriteStartArray("annotations");
            foreach (var q in data.EvalQuestions)
            {
                w.WriteStartObject();
                w.WriteString("question_type", q.Question.QuestionTypeName);
                // VQAv2's most frequent answer; with disagreement < 0.5 that is the true answer.
                w.WriteString("multiple_choice_answer", q.Question.Answer);
                w.WriteStartArray("answers");
                for (int i = 0; i < q.AnnotatorAnswers.Count; i++)
                {
                    w.WriteStartObject();
                    w.WriteString("answer", q.AnnotatorAnswers[i]);
                    w.WriteString("answer_confidence", q.AnnotatorAnswers[i] == q.Question.Answer ? "yes" : "maybe");
                    w.WriteNumber("answer_id", i + 1);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteNumber("image_id", q.ImageId);
                w.WriteString("answer_type", q.Question.AnswerType);
                w.WriteNumber("question_id", q.QuestionId);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    private static void WriteHeader(Utf8JsonWriter w, SyntheticDataset data)
    {
        w.WriteStartObject("info");
        w.WriteString("description", "OpenQwen2VL.NET synthetic shapes VQA");
        w.WriteNumber("seed", data.Options.Seed);
        w.WriteEndObject();
        w.WriteString("data_type", "synthetic_shapes");
        w.WriteString("data_subtype", "val");
    }

    /// <summary>manifest.json (kind synthetic): the caption shards for curate/pack/train, the SFT and evaluation files by role, the counts.</summary>
    private static void WriteManifest(SyntheticDataset data, SyntheticDatasetLayout layout, IReadOnlyList<string> shards)
    {
        var o = data.Options;
        string Rel(string path) => Path.GetRelativePath(layout.Root, path);
        var byType = new JsonObject();
        foreach (var g in data.EvalQuestions.GroupBy(q => q.Question.QuestionTypeName).OrderBy(g => g.Key, StringComparer.Ordinal)) byType[g.Key] = g.Count();
        var files = new Dictionary<string, string>
        {
            ["sft_json"] = Rel(layout.SftJson), ["sft_images"] = Rel(layout.SftImageRoot),
            ["eval_questions"] = Rel(layout.EvalQuestions), ["eval_annotations"] = Rel(layout.EvalAnnotations), ["eval_images"] = Rel(layout.EvalImageRoot),
        };
        if (o.InterleavedDocuments > 0) files["interleaved"] = Rel(layout.InterleavedJsonl); // pack --format interleaved --input ROOT reads it
        new StageManifest
        {
            Kind = StageKinds.Synthetic,
            Shards = [.. shards.Select(Rel)],
            Files = files,
            Details = new JsonObject
            {
                ["interleaved_documents"] = o.InterleavedDocuments,
                ["seed"] = o.Seed, ["image_size"] = o.ImageSize, ["noise_fraction"] = o.NoiseFraction, ["annotator_disagreement"] = o.AnnotatorDisagreement,
                ["pretrain_pairs"] = data.Pretrain.Count, ["pretrain_noisy_pairs"] = data.Pretrain.Count(p => p.IsNoise),
                ["sft_records"] = data.Sft.Count, ["sft_turns"] = data.Sft.Sum(r => r.Conversations.Count / 2),
                ["eval_images"] = data.EvalImages.Count, ["eval_questions"] = data.EvalQuestions.Count, ["eval_questions_by_type"] = byType,
            },
        }.Write(layout.Root);
    }


    private static byte[] Json(Action<Utf8JsonWriter> write, bool indented = true)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, indented ? Indented : Compact)) write(w);
        return ms.ToArray();
    }

    private static void WriteJsonFile(string path, Action<Utf8JsonWriter> write) => AtomicFile.WriteAllBytes(path, Json(write));
}
