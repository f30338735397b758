namespace OpenQwen2VL.Training.Model;

/// <summary>The three parts of a VLM; each is saved to its own file under its HF parameter names.</summary>
public enum ModelComponent { Llm, Projector, Vision }
