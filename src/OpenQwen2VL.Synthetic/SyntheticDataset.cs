namespace OpenQwen2VL.Synthetic;

/// <summary>
/// One pre-training pair. <see cref="Key"/> follows img2dataset (5-digit shard + 4-digit index), <see cref="Uid"/>
/// is a DataComp-style 32-hex id. When <see cref="IsNoise"/>, <see cref="Caption"/> describes another scene.
/// </summary>
public sealed record PretrainPair(string Key, string Uid, Scene Scene, string Caption, string TrueCaption, bool IsNoise, byte[] Jpeg);

/// <summary>One LLaVA conversation turn (<c>from</c> is "human" or "gpt").</summary>
public sealed record ConversationTurn(string From, string Value);

/// <summary>An SFT image: its file name (relative to the image root) and JPEG bytes.</summary>
public sealed record SftImage(string File, byte[] Jpeg);

/// <summary>One LLaVA-style SFT record: its images (one per <c>&lt;image&gt;</c> placeholder, in order) and its conversation.</summary>
public sealed record SftRecord(string Id, IReadOnlyList<SftImage> Images, IReadOnlyList<ConversationTurn> Conversations);

/// <summary>An evaluation image, named like VQAv2's images by its id.</summary>
public sealed record EvalImage(int ImageId, string FileName, Scene Scene, byte[] Jpeg);

/// <summary>One VQAv2-style question with its ten annotator answers.</summary>
public sealed record EvalQuestion(int QuestionId, int ImageId, SyntheticQuestion Question, IReadOnlyList<string> AnnotatorAnswers);

/// <summary>A whole synthetic dataset in memory, before it is written in the real formats.</summary>
public sealed record SyntheticDataset(
    SyntheticDatasetOptions Options,
    IReadOnlyList<PretrainPair> Pretrain,
    IReadOnlyList<SftRecord> Sft,
    IReadOnlyList<EvalImage> EvalImages,
    IReadOnlyList<EvalQuestion> EvalQuestions);
