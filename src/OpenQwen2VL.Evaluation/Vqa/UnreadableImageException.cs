namespace OpenQwen2VL.Evaluation.Vqa;

/// <summary>
/// An image a prompt needs could not be read or decoded. The evaluation skips that question and counts it under
/// <see cref="Reason"/> (an <see cref="OpenQwen2VL.Data.Images.ImageSkipReasons"/> key, or <c>unreadable_file</c>).
/// </summary>
public sealed class UnreadableImageException(string path, string reason) : IOException($"{path}: {reason}")
{
    public const string UnreadableFile = "unreadable_file";

    public string Path { get; } = path;
    public string Reason { get; } = reason;
}
