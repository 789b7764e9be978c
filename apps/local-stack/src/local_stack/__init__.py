"""local_stack"""
