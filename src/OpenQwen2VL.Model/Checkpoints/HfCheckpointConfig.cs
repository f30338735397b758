namespace OpenQwen2VL.Model.Checkpoints;

/// <summary>
/// The one config.json flag checkpoint I/O needs: <c>tie_word_embeddings</c> (the rest of the HF config belongs
/// to the model's config classes). HF stores tied embeddings once, under the input embedding's name.
/// </summary>
public static class HfCheckpointConfig
{
    public const string EmbedTokensKey = "model.embed_tokens.weight";
    public const string LmHeadKey = "lm_head.weight";

    /// <summary>
    /// <c>tie_word_embeddings</c> from config.json in <paramref name="folderOrFile"/> (a folder, a config.json, or a
    /// checkpoint file next to one); null when there is no config.json or it lacks the flag.
    /// </summary>
    public static bool? ReadTieWordEmbeddings(string folderOrFile)
    {
        string path = Directory.Exists(folderOrFile) ? Path.Combine(folderOrFile, "config.json")
            : Path.GetFileName(folderOrFile) == "config.json" ? folderOrFile
            : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(folderOrFile))!, "config.json");
        if (!File.Exists(path)) return null;
        var node = HfConfigFields.ReadObject(path)["tie_word_embeddings"];
        return node is null ? null : HfConfigFields.Bool(node, "tie_word_embeddings", path, false);
    }
}
